import CRdKafka
import Foundation
import IMCore
import IMQueue
import IMTestKit
import Synchronization
import Testing

/// Why the Kafka tests cannot run here (they fail rather than skip; see KafkaBroker).
enum KafkaTestSetupError: Error, CustomStringConvertible {
    case oldLibrary(String)

    var description: String {
        switch self {
        case .oldLibrary(let version):
            return "librdkafka \(version) is loaded, which cannot talk to the tansu test broker:"
                + " run the tests with LD_LIBRARY_PATH=$IMCTL_RDKAFKA_LIBDIR"
                + " (see scripts/kafka-test-broker), or set IMCTL_SKIP_KAFKA_TESTS=1"
        }
    }
}

enum KafkaTestSetup {
    /// The skip switch shared by every Kafka suite, shown in the test report.
    static let enabled = Testing.ConditionTrait.enabled(
        if: !KafkaBroker.isSkipRequested, "Kafka tests skipped: IMCTL_SKIP_KAFKA_TESTS=1")

    /// Starts a tansu broker, after checking that a librdkafka newer than Debian's 2.0.2 is
    /// loaded.
    static func startBroker() throws -> KafkaBroker {
        guard KafkaLibrary.versionNumber >= 0x0201_0000 else {
            throw KafkaTestSetupError.oldLibrary(KafkaLibrary.version)
        }
        return try KafkaBroker()
    }

    /// A URL for `topic` on `broker` with settings that keep tests quick: short group joins,
    /// fast metadata refresh and reconnects, and a group no other test uses.
    static func url(
        _ broker: KafkaBroker, topic: String, group: String? = nil,
        extra: [String: String] = [:]
    ) -> KafkaURL {
        var properties = [
            "session.timeout.ms": "6000", "topic.metadata.refresh.interval.ms": "500",
            "reconnect.backoff.max.ms": "500", "linger.ms": "1",
            "allow.auto.create.topics": "false",
            "group.id": group ?? KafkaBroker.uniqueTopic("group"),
        ]
        properties.merge(extra) { $1 }
        return KafkaURL(brokers: [broker.address], topic: topic, properties: properties)
    }
}

/// Records what a handler received, from any task.
final class MessageLog: Sendable {
    private let received = Mutex<[DispatchMessage]>([])

    func append(_ message: DispatchMessage) {
        received.withLock { $0.append(message) }
    }

    var messages: [DispatchMessage] { received.withLock { $0 } }
    var count: Int { received.withLock { $0.count } }
}

/// Polls `condition` until it holds or `timeout` passes; never hangs a test.
func waitUntil(
    _ timeout: Duration = .seconds(30), _ condition: @Sendable () -> Bool
) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// Runs `consumer` until `count` messages arrived (or `timeout`), then closes it, so every
/// handled message is committed. Returns what arrived.
func receive(
    _ count: Int, from consumer: KafkaConsumer, timeout: Duration = .seconds(30)
) async throws -> [DispatchMessage] {
    let log = MessageLog()
    let running = Task { try await consumer.run { log.append($0) } }
    _ = await waitUntil(timeout) { log.count >= count }

    consumer.close()
    try await running.value
    return log.messages
}

/// A bare librdkafka client, to play "another producer" (goim's logic) and to read a topic's
/// raw values without our decoding.
enum RawKafka {
    struct Record: Sendable, Equatable {
        var partition: Int32
        var key: [UInt8]?
        var value: [UInt8]
    }

    enum RawError: Error {
        case client(String)
        case notDelivered
    }

    /// Produces one message and waits (up to 10 s) until librdkafka has delivered it.
    static func produce(
        to broker: KafkaBroker, topic: String, key: [UInt8]?, value: [UInt8]
    ) throws {
        let client = try makeClient(RD_KAFKA_PRODUCER, ["bootstrap.servers": broker.address])
        defer { rd_kafka_destroy(client) }
        let handle = rd_kafka_topic_new(client, topic, nil)!
        defer { rd_kafka_topic_destroy(handle) }

        let status = value.withUnsafeBytes { valueBytes in
            (key ?? []).withUnsafeBytes { keyBytes in
                rd_kafka_produce(
                    handle, -1, imctl_rd_kafka_msg_flag_copy(),
                    UnsafeMutableRawPointer(mutating: valueBytes.baseAddress), valueBytes.count,
                    key == nil ? nil : keyBytes.baseAddress, keyBytes.count, nil)
            }
        }
        guard status == 0, rd_kafka_flush(client, 10_000) == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw RawError.notDelivered
        }
    }

    /// Reads every partition of `topic` from the beginning until `count` records arrived or
    /// `timeout` passed.
    static func read(
        _ count: Int, from broker: KafkaBroker, topic: String, partitions: Int32,
        timeout: Duration = .seconds(20)
    ) throws -> [Record] {
        let client = try makeClient(
            RD_KAFKA_CONSUMER,
            ["bootstrap.servers": broker.address, "group.id": KafkaBroker.uniqueTopic("raw")])
        defer { rd_kafka_destroy(client) }
        try assignFromBeginning(client, topic: topic, partitions: partitions)

        var records: [Record] = []
        let deadline = ContinuousClock.now + timeout
        while records.count < count && ContinuousClock.now < deadline {
            guard let message = rd_kafka_consumer_poll(client, 100) else { continue }
            defer { rd_kafka_message_destroy(message) }
            if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                records.append(record(message.pointee))
            }
        }
        rd_kafka_consumer_close(client)
        return records
    }

    private static func assignFromBeginning(
        _ client: OpaquePointer, topic: String, partitions: Int32
    ) throws {
        let list = rd_kafka_topic_partition_list_new(partitions)!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for partition in 0..<partitions {
            rd_kafka_topic_partition_list_add(list, topic, partition).pointee.offset = -2
        }
        let code = rd_kafka_assign(client, list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw RawError.client("assign failed: \(String(cString: rd_kafka_err2str(code)))")
        }
    }

    private static func record(_ message: rd_kafka_message_t) -> Record {
        let value = UnsafeRawBufferPointer(start: message.payload, count: message.len)
        let key = message.key.map {
            Array(UnsafeRawBufferPointer(start: $0, count: message.key_len))
        }
        return Record(partition: message.partition, key: key, value: Array(value))
    }

    private static func makeClient(
        _ type: rd_kafka_type_t, _ settings: [String: String]
    ) throws -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var reason = [CChar](repeating: 0, count: 512)
        for (name, value) in settings {
            guard rd_kafka_conf_set(conf, name, value, &reason, reason.count) == RD_KAFKA_CONF_OK
            else { throw RawError.client(name) }
        }
        guard let client = rd_kafka_new(type, conf, &reason, reason.count) else {
            throw RawError.client("rd_kafka_new failed")
        }
        return client
    }
}
