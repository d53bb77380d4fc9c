import CRdKafka
import Dispatch
import Foundation
import IMCore
import Synchronization

/// Consumes dispatch messages from a Kafka topic as a member of a consumer group (job's side
/// of the queue).
///
/// - Group `group.id` from the URL, default `imctl-job`; several jobs in one group split the
///   partitions, and librdkafka's default assignor handles rebalances.
/// - A group without committed offsets starts at the **earliest** offset
///   (`auto.offset.reset=earliest`, overridable in the URL): messages published before the
///   first job started are delivered, where goim started at the newest offset and lost them.
/// - At-least-once: an offset is committed (`enable.auto.commit=false`, our own commits of
///   offset + 1) only after the handler returned for that message, so a job that stops
///   mid-message gets it again after a restart. Commits are asynchronous and coalesced: at
///   once when no further message is waiting, else every `commitInterval`.
/// - A value that is not a goim dispatch message is logged, counted in `undecodable` and
///   committed, so it cannot block its partition.
///
/// A thread started by `init` polls librdkafka; it fetches one message ahead of the handler.
public final class KafkaConsumer: DispatchConsumer {
    public static let defaultCommitInterval: Duration = .milliseconds(100)

    public let url: KafkaURL

    /// Messages handed to the handler.
    public var consumed: Counter { core.events.consumed }
    /// Values that were not goim dispatch messages (skipped and committed).
    public var undecodable: Counter { core.events.undecodable }
    /// Offset commits the broker refused.
    public var commitFailures: Counter { core.events.commitFailures }
    /// Errors librdkafka reported for the client or a partition.
    public var clientErrors: Counter { core.events.clientErrors }

    /// Every counter, for a registry.
    public var metrics: [any Metric] { [consumed, undecodable, commitFailures, clientErrors] }

    /// Whether a `run` is active (for tests and diagnostics).
    public var hasConsumer: Bool { core.hasConsumer }

    private let core: ConsumerCore
    private let commitInterval: Duration

    /// Joins the group and subscribes to the URL's topic; connects lazily, so this succeeds
    /// while the broker is down.
    ///
    /// - Throws: `KafkaURLError` for a property librdkafka refuses, `QueueError` when the
    ///   client cannot be created or subscribed.
    public init(url: KafkaURL, commitInterval: Duration = KafkaConsumer.defaultCommitInterval)
        throws
    {
        self.url = url
        self.commitInterval = commitInterval
        self.core = try ConsumerCore(url: url)
        core.startPolling()
        kafkaLogger.info(
            "Kafka consumer started", ["kafka.url": url.description, "kafka.group": url.groupID])
    }

    deinit {
        core.shutdown()
    }

    /// Calls `handler` for each message in partition order, one at a time, and commits each
    /// offset after the handler returned. Returns when the task is cancelled or `close()` is
    /// called. If the task is cancelled while the handler runs, that message is **not**
    /// committed (the handler may have cut its work short), so it is delivered again later.
    ///
    /// - Throws: `QueueError.unavailable` if another `run` is consuming or the consumer is
    ///   closed.
    public func run(_ handler: @escaping @Sendable (DispatchMessage) async -> Void) async throws {
        try core.claimConsumer()
        defer { core.releaseConsumer() }

        var commits = PendingCommits()
        while let record = await nextRecord(committing: &commits) {
            guard await handle(record, handler) else { break }

            commits.handled(record)
            if ContinuousClock.now - commits.lastCommit >= commitInterval {
                core.commit(&commits)
            }
        }
        core.commit(&commits)
    }

    /// Stops polling, makes a running `run` return (giving it up to `leaveTimeout` to commit
    /// what it handled), leaves the group (again waiting up to `leaveTimeout`), and releases
    /// the client. Blocks the calling thread meanwhile; prefer cancelling the `run` task and
    /// awaiting it first. Idempotent.
    public func close(leaveTimeout: Duration = .seconds(10)) {
        core.shutdown(leaveTimeout: leaveTimeout)
    }

    /// Commits what was handled before waiting, so an idle consumer has nothing pending.
    private func nextRecord(committing commits: inout PendingCommits) async -> ConsumedRecord? {
        if !core.hasReadyRecord { core.commit(&commits) }
        return await core.next()
    }

    /// Passes the record to `handler`; false when the task was cancelled meanwhile (the
    /// record then stays uncommitted).
    private func handle(
        _ record: ConsumedRecord, _ handler: @Sendable (DispatchMessage) async -> Void
    ) async -> Bool {
        switch record.value {
        case .success(let message):
            core.events.consumed.increment()
            await handler(message)
            return !Task.isCancelled
        case .failure(let error):
            core.events.undecodable.increment()
            kafkaLogger.warning(
                "Skipping a Kafka message that is not a dispatch message",
                [
                    "kafka.partition": "\(record.partition)", "kafka.offset": "\(record.offset)",
                    "error": "\(error)",
                ])
            return true
        }
    }
}

/// One message taken off the topic, already decoded (or the reason it could not be).
private struct ConsumedRecord: Sendable {
    var partition: Int32
    var offset: Int64
    var value: Result<DispatchMessage, any Error>
}

/// The next offset to commit per partition, for the messages handled since the last commit.
private struct PendingCommits {
    var offsets: [Int32: Int64] = [:]
    var lastCommit = ContinuousClock.now

    mutating func handled(_ record: ConsumedRecord) {
        offsets[record.partition] = record.offset + 1
    }
}

/// The librdkafka consumer, its polling thread and the one-message hand-off between them.
/// Kept apart from `KafkaConsumer` so the polling thread does not keep the consumer alive.
private final class ConsumerCore: Sendable {
    typealias Waiter = CheckedContinuation<ConsumedRecord?, Never>

    private struct Handoff {
        var ready: ConsumedRecord?
        var waiter: Waiter?
        var hasConsumer = false
        var isClosed = false

        /// Parks `waiter` unless there is already an answer. Checking cancellation under the
        /// lock closes the race with the cancellation handler, which runs after the flag is set.
        mutating func takeOrPark(_ waiter: Waiter) -> ConsumedRecord?? {
            if Task.isCancelled || isClosed { return .some(nil) }
            if let record = ready.take() { return .some(record) }
            self.waiter = waiter
            return nil
        }
    }

    let events = ConsumerEvents()

    private let client: KafkaHandle
    private let topic: String
    private let handoff = Mutex(Handoff())
    /// One token: the poller takes it to fetch a message, the consumer returns it on taking
    /// the message, so at most one message waits outside librdkafka.
    private let fetchPermit = DispatchSemaphore(value: 1)
    /// Guards commits against destruction: false once `shutdown` stops taking commits.
    private let isOpen = Mutex(true)
    private let stopPolling = Atomic(false)
    private let shutdownStarted = Atomic(false)
    private let pollerExited = DispatchSemaphore(value: 0)

    init(url: KafkaURL) throws {
        topic = url.topic
        let conf = try KafkaConfiguration.make(Self.settings(url))
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(events).toOpaque())
        rd_kafka_conf_set_offset_commit_cb(conf) { _, code, _, opaque in
            guard let opaque else { return }
            ConsumerEvents.from(opaque).commitFinished(code)
        }
        rd_kafka_conf_set_error_cb(conf) { _, code, reason, opaque in
            guard let opaque else { return }
            ConsumerEvents.from(opaque).clientError(code, reason.map { String(cString: $0) })
        }

        client = try KafkaConfiguration.makeClient(RD_KAFKA_CONSUMER, conf)
        rd_kafka_poll_set_consumer(client.pointer)
        try subscribe()
    }

    /// Our defaults, then the URL's properties, then what imctl insists on.
    private static func settings(_ url: KafkaURL) -> [(String, String)] {
        var settings = [
            ("client.id", "imctl"), ("group.id", KafkaURL.defaultGroupID),
            ("auto.offset.reset", "earliest"), ("enable.partition.eof", "false"),
        ]
        settings += url.properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        settings += [
            ("bootstrap.servers", url.bootstrapServers), ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
        ]
        return settings
    }

    private func subscribe() throws {
        let topics = rd_kafka_topic_partition_list_new(1)!
        defer { rd_kafka_topic_partition_list_destroy(topics) }
        rd_kafka_topic_partition_list_add(topics, topic, imctl_rd_kafka_partition_unassigned())

        let code = rd_kafka_subscribe(client.pointer, topics)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            rd_kafka_destroy(client.pointer)
            throw QueueError.unavailable(
                "cannot subscribe to Kafka topic \(topic): \(kafkaErrorText(code))")
        }
    }

    // MARK: Polling thread

    func startPolling() {
        Thread.detachNewThread { [self] in
            while !stopPolling.load(ordering: .acquiring) {
                guard fetchPermit.wait(timeout: .now() + .milliseconds(100)) == .success else {
                    continue
                }
                guard let record = pollRecord() else {
                    fetchPermit.signal()
                    continue
                }
                deliver(record)
            }
            pollerExited.signal()
        }
    }

    /// Polls until a message arrives or polling should stop.
    private func pollRecord() -> ConsumedRecord? {
        while !stopPolling.load(ordering: .acquiring) {
            guard let message = rd_kafka_consumer_poll(client.pointer, 100) else { continue }
            defer { rd_kafka_message_destroy(message) }

            if let record = record(from: message.pointee) { return record }
        }
        return nil
    }

    /// The decoded message, or nil (logged) for an error event.
    private func record(from message: rd_kafka_message_t) -> ConsumedRecord? {
        guard message.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            events.messageError(message)
            return nil
        }

        let value = UnsafeRawBufferPointer(start: message.payload, count: message.len)
        let decoded = Result { try DispatchMessage(json: value) }
        return ConsumedRecord(partition: message.partition, offset: message.offset, value: decoded)
    }

    private func deliver(_ record: ConsumedRecord) {
        let waiter = handoff.withLock { handoff -> Waiter? in
            if let waiter = handoff.waiter.take() { return waiter }
            handoff.ready = record
            return nil
        }
        waiter?.resume(returning: record)
    }

    // MARK: Consumer side

    func claimConsumer() throws(QueueError) {
        try handoff.withLock { handoff throws(QueueError) in
            guard !handoff.isClosed else { throw .unavailable("Kafka consumer is closed") }
            guard !handoff.hasConsumer else {
                throw .unavailable("queue already has a consumer")
            }
            handoff.hasConsumer = true
        }
    }

    func releaseConsumer() {
        handoff.withLock { $0.hasConsumer = false }
    }

    var hasReadyRecord: Bool { handoff.withLock { $0.ready != nil } }

    var hasConsumer: Bool { handoff.withLock { $0.hasConsumer } }

    /// The next record, or nil when the task is cancelled or the consumer closed.
    func next() async -> ConsumedRecord? {
        let record = await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: Waiter) in
                let answer = handoff.withLock { $0.takeOrPark(waiter) }
                if let answer { waiter.resume(returning: answer) }
            }
        } onCancel: {
            handoff.withLock { $0.waiter.take() }?.resume(returning: nil)
        }

        if record != nil { fetchPermit.signal() }
        return record
    }

    /// Commits `commits` asynchronously (librdkafka reports the result to
    /// `ConsumerEvents.commitFinished`) and clears them. Nothing happens after `shutdown`.
    func commit(_ commits: inout PendingCommits) {
        guard !commits.offsets.isEmpty else { return }
        defer {
            commits.offsets.removeAll(keepingCapacity: true)
            commits.lastCommit = .now
        }

        let list = rd_kafka_topic_partition_list_new(Int32(commits.offsets.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (partition, offset) in commits.offsets {
            rd_kafka_topic_partition_list_add(list, topic, partition).pointee.offset = offset
        }

        isOpen.withLock { isOpen in
            guard isOpen else { return }
            let code = rd_kafka_commit(client.pointer, list, 1)
            if code != RD_KAFKA_RESP_ERR_NO_ERROR { events.commitFinished(code) }
        }
    }

    // MARK: Shutdown

    /// Stops the poller, wakes `run` and gives it until `leaveTimeout` to make its last
    /// commit, leaves the group (bounded too) and destroys the client. Only the first call
    /// does anything.
    func shutdown(leaveTimeout: Duration = .seconds(1)) {
        guard !shutdownStarted.exchange(true, ordering: .acquiringAndReleasing) else { return }

        stopPolling.store(true, ordering: .releasing)
        let waiter = handoff.withLock { handoff -> Waiter? in
            handoff.isClosed = true
            handoff.ready = nil
            return handoff.waiter.take()
        }
        waiter?.resume(returning: nil)
        waitForConsumerExit(until: .now + leaveTimeout)
        isOpen.withLock { $0 = false }
        pollerExited.wait()

        leaveGroup(within: leaveTimeout)
        rd_kafka_destroy_flags(client.pointer, imctl_rd_kafka_destroy_flag_no_consumer_close())
        kafkaLogger.info("Kafka consumer closed")
    }

    /// A `run` that is between messages returns at once; one inside its handler may take
    /// longer, and then its message stays uncommitted.
    private func waitForConsumerExit(until deadline: ContinuousClock.Instant) {
        while hasConsumer && ContinuousClock.now < deadline {
            usleep(5_000)
        }
    }

    /// Leaves the group in the background and serves its events until it is done or
    /// `timeout` has passed (a broker that is down would otherwise hold us for a session).
    private func leaveGroup(within timeout: Duration) {
        let queue = rd_kafka_queue_new(client.pointer)!
        defer { rd_kafka_queue_destroy(queue) }
        if let error = rd_kafka_consumer_close_queue(client.pointer, queue) {
            kafkaLogger.warning(
                "Kafka consumer did not leave its group cleanly",
                ["kafka.error": String(cString: rd_kafka_error_string(error))])
            rd_kafka_error_destroy(error)
            return
        }

        let deadline = ContinuousClock.now + timeout
        while rd_kafka_consumer_closed(client.pointer) == 0 && ContinuousClock.now < deadline {
            guard let event = rd_kafka_queue_poll(queue, 100) else { continue }
            serveCloseEvent(event)
            rd_kafka_event_destroy(event)
        }
    }

    /// Gives up the assignment when the group asks us to while leaving.
    private func serveCloseEvent(_ event: OpaquePointer) {
        guard rd_kafka_event_type(event) == RD_KAFKA_EVENT_REBALANCE else { return }

        let protocolName = String(cString: rd_kafka_rebalance_protocol(client.pointer))
        if protocolName == "COOPERATIVE" {
            let partitions = rd_kafka_event_topic_partition_list(event)
            rd_kafka_error_destroy(rd_kafka_incremental_unassign(client.pointer, partitions))
        } else {
            rd_kafka_assign(client.pointer, nil)
        }
    }
}

/// Counters and librdkafka's callback context for the consumer.
private final class ConsumerEvents: Sendable {
    let consumed = Counter(
        "imctl_kafka_consumed_total", help: "dispatch messages consumed from Kafka for job")
    let undecodable = Counter(
        "imctl_kafka_undecodable_total",
        help: "Kafka values that were not dispatch messages (dropped and committed)")
    let commitFailures = Counter(
        "imctl_kafka_commit_failures_total", help: "Kafka offset commits that failed")
    let clientErrors = Counter(
        "imctl_kafka_consumer_errors_total", help: "errors reported by the Kafka consumer")

    static func from(_ opaque: UnsafeMutableRawPointer) -> ConsumerEvents {
        Unmanaged<ConsumerEvents>.fromOpaque(opaque).takeUnretainedValue()
    }

    /// The outcome of an asynchronous commit. "No offset" only means there was nothing new.
    func commitFinished(_ code: rd_kafka_resp_err_t) {
        guard code != RD_KAFKA_RESP_ERR_NO_ERROR, code != RD_KAFKA_RESP_ERR__NO_OFFSET else {
            return
        }
        commitFailures.increment()
        kafkaLogger.warning(
            "Kafka offset commit failed; the messages will be delivered again",
            ["kafka.error": kafkaErrorText(code)])
    }

    func clientError(_ code: Int32, _ reason: String?) {
        clientErrors.increment()
        kafkaLogger.log(
            kafkaErrorLevel(code), "Kafka consumer error", ["kafka.error": reason ?? "code \(code)"]
        )
    }

    /// An error delivered in place of a message (unknown topic, partition trouble, ...).
    func messageError(_ message: rd_kafka_message_t) {
        clientErrors.increment()
        let text = message.payload.map { payload in
            String(
                decoding: UnsafeRawBufferPointer(start: payload, count: message.len), as: UTF8.self)
        }
        kafkaLogger.warning(
            "Kafka consumer error",
            [
                "kafka.error": text ?? kafkaErrorText(message.err),
                "kafka.partition": "\(message.partition)",
            ])
    }
}
