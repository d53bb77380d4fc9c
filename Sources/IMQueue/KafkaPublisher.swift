import CRdKafka
import Dispatch
import Foundation
import IMCore
import Synchronization

/// Publishes dispatch messages to a Kafka topic (logic's side of the queue).
///
/// Each message's value is goim v1.2's JSON (`DispatchMessage.jsonBytes()`), so goim's job can
/// consume our topic and ours can consume goim's; its key is `DispatchMessage.partitionKey`
/// (room id for room messages, user id for `multiple`, none for broadcasts), so messages for
/// one room or one user stay in order on one partition.
///
/// `publish` returns only after the broker acknowledged the message with `acks=all` (set
/// `enable.idempotence=true` in the URL to also rule out duplicates from producer retries).
/// It waits at most `deliveryTimeout`; a broker that is down makes it throw
/// `QueueError.unavailable` once that time is up, never crash or hang. A thread started by
/// `init` serves librdkafka's delivery reports until `close()`.
public final class KafkaPublisher: DispatchPublisher {
    /// How long `publish` waits for the broker when neither the caller nor the URL's
    /// `message.timeout.ms` says otherwise.
    public static let defaultDeliveryTimeout: Duration = .seconds(10)

    public let url: KafkaURL
    /// The longest `publish` waits for the acknowledgement.
    public let deliveryTimeout: Duration

    /// Messages the broker acknowledged.
    public var acknowledged: Counter { core.tracker.acknowledged }
    /// Messages refused or not acknowledged in time.
    public var failed: Counter { core.tracker.failed }
    /// Errors librdkafka reported for the client (broker down, authentication, ...).
    public var clientErrors: Counter { core.tracker.clientErrors }

    /// Every counter, for a registry.
    public var metrics: [any Metric] { [acknowledged, failed, clientErrors] }

    /// Closed, or the broker failed the last message (until it acknowledges one again).
    public var unavailableReason: String? {
        if !core.isAcceptingMessages { return "Kafka publisher is closed" }
        if core.tracker.lastDeliveryFailed.load(ordering: .relaxed) {
            return "Kafka broker did not acknowledge the last message"
        }
        return nil
    }

    private let core: ProducerCore

    /// Connects lazily: creating the publisher succeeds while the broker is down.
    ///
    /// - Parameter deliveryTimeout: the bound on `publish`; default: the URL's
    ///   `message.timeout.ms`, else 10 s. librdkafka's `message.timeout.ms` is set to it too.
    /// - Throws: `KafkaURLError` for a property librdkafka refuses, `QueueError` when the
    ///   client cannot be created.
    public init(url: KafkaURL, deliveryTimeout: Duration? = nil) throws {
        let timeout = deliveryTimeout ?? Self.timeout(in: url) ?? Self.defaultDeliveryTimeout
        self.url = url
        self.deliveryTimeout = timeout
        self.core = try ProducerCore(url: url, deliveryTimeout: timeout)
        core.startPolling()
        kafkaLogger.info("Kafka publisher started", ["kafka.url": url.description])
    }

    deinit {
        core.shutdown(flushTimeout: .seconds(1))
    }

    /// Sends `message` and waits for the broker's acknowledgement (at most `deliveryTimeout`).
    /// Cancelling the calling task does not cut the wait short: the message is already with
    /// librdkafka, and the caller learns whether it was stored.
    ///
    /// - Throws: `QueueError.full` when librdkafka's local queue is full;
    ///   `QueueError.unavailable` when the broker refused the message, did not acknowledge it
    ///   in time (it may still have been stored), or the publisher is closed.
    public func publish(_ message: DispatchMessage) async throws {
        let value = message.jsonBytes()
        let key = message.partitionKey
        let deadline = ContinuousClock.now + deliveryTimeout

        try await withCheckedThrowingContinuation { (waiter: DeliveryTracker.Waiter) in
            let id = core.tracker.register(waiter, deadline: deadline)
            if let error = core.produce(value: value, key: key, id: id) {
                core.tracker.fail(id, error)
            }
        }
    }

    /// Waits up to `flushTimeout` for messages still in flight, fails the rest with
    /// `.unavailable`, and releases the client. Later `publish` calls fail. Idempotent.
    public func close(flushTimeout: Duration = .seconds(5)) {
        core.shutdown(flushTimeout: flushTimeout)
    }

    private static func timeout(in url: KafkaURL) -> Duration? {
        guard let text = url.properties["message.timeout.ms"], let millis = Int(text),
            millis > 0
        else { return nil }
        return .milliseconds(millis)
    }
}

/// The librdkafka producer and the thread that polls it. Kept apart from `KafkaPublisher`
/// so the polling thread does not keep the publisher alive.
private final class ProducerCore: Sendable {
    let tracker = DeliveryTracker()

    private let client: KafkaHandle
    private let topic: KafkaHandle
    /// Guards produce against destruction: false once `shutdown` began.
    private let isOpen = Mutex(true)
    private let stopPolling = Atomic(false)
    private let pollerExited = DispatchSemaphore(value: 0)

    var isAcceptingMessages: Bool { isOpen.withLock { $0 } }

    init(url: KafkaURL, deliveryTimeout: Duration) throws {
        let conf = try KafkaConfiguration.make(Self.settings(url, deliveryTimeout))
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(tracker).toOpaque())
        rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
            guard let message, let opaque else { return }
            DeliveryTracker.from(opaque).deliveryReported(message.pointee)
        }
        rd_kafka_conf_set_error_cb(conf) { _, code, reason, opaque in
            guard let opaque else { return }
            DeliveryTracker.from(opaque).clientError(code, reason.map { String(cString: $0) })
        }

        client = try KafkaConfiguration.makeClient(RD_KAFKA_PRODUCER, conf)
        guard let topic = rd_kafka_topic_new(client.pointer, url.topic, nil) else {
            let reason = kafkaErrorText(rd_kafka_last_error())
            rd_kafka_destroy(client.pointer)
            throw QueueError.unavailable("cannot open Kafka topic \(url.topic): \(reason)")
        }
        self.topic = KafkaHandle(pointer: topic)
    }

    /// Our defaults, then the URL's properties, then what imctl insists on.
    private static func settings(_ url: KafkaURL, _ timeout: Duration) -> [(String, String)] {
        let millis = max(1, timeout.wholeMilliseconds)
        var settings = [
            ("client.id", "imctl"), ("acks", "all"), ("message.timeout.ms", "\(millis)"),
        ]
        settings += url.properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        settings.append(("bootstrap.servers", url.bootstrapServers))
        return settings
    }

    func startPolling() {
        Thread.detachNewThread { [self] in
            while !stopPolling.load(ordering: .acquiring) {
                rd_kafka_poll(client.pointer, 100)
                tracker.expire(now: .now)
            }
            pollerExited.signal()
        }
    }

    /// Hands the message to librdkafka (which copies it); the error if it refused at once.
    func produce(value: [UInt8], key: [UInt8]?, id: UInt) -> QueueError? {
        isOpen.withLock { isOpen in
            guard isOpen else { return QueueError.unavailable("Kafka publisher is closed") }

            let status = value.withUnsafeBytes { value in
                withOptionalBytes(key) { key in
                    rd_kafka_produce(
                        topic.pointer, imctl_rd_kafka_partition_unassigned(),
                        imctl_rd_kafka_msg_flag_copy(),
                        UnsafeMutableRawPointer(mutating: value.baseAddress),
                        value.count, key.baseAddress, key.count,
                        UnsafeMutableRawPointer(bitPattern: id))
                }
            }
            return status == 0 ? nil : Self.refusal(rd_kafka_last_error(), size: value.count)
        }
    }

    private static func refusal(_ code: rd_kafka_resp_err_t, size: Int) -> QueueError {
        switch code {
        case RD_KAFKA_RESP_ERR__QUEUE_FULL:
            return .full
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
            return .unavailable(
                "Kafka refused the message: \(size) bytes exceeds message.max.bytes")
        default:
            return .unavailable("Kafka refused the message: \(kafkaErrorText(code))")
        }
    }

    /// Stops the poller, flushes for up to `flushTimeout`, fails what is left, and destroys
    /// the client. Only the first call does anything.
    func shutdown(flushTimeout: Duration) {
        let wasOpen = isOpen.withLock { isOpen in
            defer { isOpen = false }
            return isOpen
        }
        guard wasOpen else { return }

        stopPolling.store(true, ordering: .releasing)
        pollerExited.wait()
        drain(flushTimeout)
        tracker.failAll(.unavailable("Kafka publisher closed before the broker acknowledged"))

        rd_kafka_topic_destroy(topic.pointer)
        rd_kafka_destroy(client.pointer)
        kafkaLogger.info("Kafka publisher closed")
    }

    /// Waits for in-flight messages, then discards any the broker never took so that
    /// destroying the client cannot wait for them.
    private func drain(_ timeout: Duration) {
        let millis = Int32(clamping: max(0, timeout.wholeMilliseconds))
        guard rd_kafka_flush(client.pointer, millis) != RD_KAFKA_RESP_ERR_NO_ERROR else { return }

        kafkaLogger.warning(
            "Kafka publisher closing with unacknowledged messages",
            ["kafka.in_flight": "\(rd_kafka_outq_len(client.pointer))"])
        rd_kafka_purge(client.pointer, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
        rd_kafka_poll(client.pointer, 0)
    }
}

/// `body` with the bytes of `bytes`, or an empty buffer (nil base address) for nil.
private func withOptionalBytes<R>(
    _ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer) -> R
) -> R {
    guard let bytes else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
    return bytes.withUnsafeBytes(body)
}

/// The publishes waiting for their delivery report, by the id passed to librdkafka as the
/// message's opaque. Also librdkafka's callback context for the producer.
private final class DeliveryTracker: Sendable {
    typealias Waiter = CheckedContinuation<Void, any Error>

    private struct Pending {
        var waiter: Waiter
        var deadline: ContinuousClock.Instant
    }

    private struct State {
        var nextID: UInt = 1
        var pending: [UInt: Pending] = [:]
    }

    let acknowledged = Counter(
        "imctl_kafka_published_total", help: "dispatch messages the Kafka broker acknowledged")
    let failed = Counter(
        "imctl_kafka_publish_failures_total",
        help: "dispatch messages refused or not acknowledged in time (the caller got 503)")
    let clientErrors = Counter(
        "imctl_kafka_producer_errors_total", help: "errors reported by the Kafka producer")
    /// Whether the last delivery report (or deadline) failed; cleared by the next success.
    let lastDeliveryFailed = Atomic(false)

    private let state = Mutex(State())

    static func from(_ opaque: UnsafeMutableRawPointer) -> DeliveryTracker {
        Unmanaged<DeliveryTracker>.fromOpaque(opaque).takeUnretainedValue()
    }

    /// Remembers `waiter` until its report or `deadline`; returns the message's id (never 0,
    /// which librdkafka would see as no opaque).
    func register(_ waiter: Waiter, deadline: ContinuousClock.Instant) -> UInt {
        state.withLock { state in
            let id = state.nextID
            state.nextID = id == UInt.max ? 1 : id + 1
            state.pending[id] = Pending(waiter: waiter, deadline: deadline)
            return id
        }
    }

    /// librdkafka's verdict on one message (on the polling thread).
    func deliveryReported(_ message: rd_kafka_message_t) {
        let id = UInt(bitPattern: message._private)
        guard message.err != RD_KAFKA_RESP_ERR_NO_ERROR else {
            guard let pending = take(id) else { return }
            acknowledged.increment()
            lastDeliveryFailed.store(false, ordering: .relaxed)
            pending.waiter.resume()
            return
        }

        let reason = kafkaErrorText(message.err)
        kafkaLogger.debug("Kafka delivery failed", ["kafka.error": reason])
        fail(id, .unavailable("Kafka did not store the message: \(reason)"))
    }

    func fail(_ id: UInt, _ error: QueueError) {
        guard let pending = take(id) else { return }
        failed.increment()
        lastDeliveryFailed.store(true, ordering: .relaxed)
        pending.waiter.resume(throwing: error)
    }

    /// Fails every publish whose deadline has passed.
    func expire(now: ContinuousClock.Instant) {
        let expired = state.withLock { state -> [Pending] in
            let ids = state.pending.filter { $0.value.deadline <= now }.map(\.key)
            return ids.compactMap { state.pending.removeValue(forKey: $0) }
        }
        guard !expired.isEmpty else { return }

        kafkaLogger.debug("Kafka deliveries timed out", ["kafka.count": "\(expired.count)"])
        failed.increment(by: expired.count)
        lastDeliveryFailed.store(true, ordering: .relaxed)
        for pending in expired {
            pending.waiter.resume(
                throwing: QueueError.unavailable(
                    "Kafka broker did not acknowledge the message in time"))
        }
    }

    func failAll(_ error: QueueError) {
        let all = state.withLock { state in
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        failed.increment(by: all.count)
        for pending in all { pending.waiter.resume(throwing: error) }
    }

    /// An error librdkafka reports for the client as a whole (broker down, ...).
    func clientError(_ code: Int32, _ reason: String?) {
        clientErrors.increment()
        kafkaLogger.log(
            kafkaErrorLevel(code), "Kafka producer error", ["kafka.error": reason ?? "code \(code)"]
        )
    }

    private func take(_ id: UInt) -> Pending? {
        state.withLock { $0.pending.removeValue(forKey: id) }
    }
}
