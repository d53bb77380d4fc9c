import Foundation
import IMTestKit

/// Plays goim's logic: produces dispatch messages to a topic with a Kafka client that is not
/// imctl's.
///
/// Which client: tansu's own `tansu cat produce` stores records that the broker then never
/// serves to a fetch (tried with tansu 0.6.0: the produce is acknowledged, fetches return
/// empty), so it cannot be used. The next independent producer at hand is Python's
/// `confluent_kafka`, installed in the venv of `scripts/kafka-test-broker`
/// (`IMCTL_RDKAFKA_LIBDIR` is `<venv>/rdkafka-lib`): another process, another client
/// library and configuration, keyed the way goim's logic keyed. It shares librdkafka with
/// imctl underneath, as goim's sarama would not; what is tested is that a value written by
/// someone else, byte for byte in goim's JSON, is consumed and delivered.
enum GoimProducer {
    struct Record {
        /// The Kafka key (goim: 4 big-endian bytes of the room id for room messages, none
        /// otherwise).
        var key: [UInt8]?
        /// The value as goim's logic wrote it.
        var value: String
    }

    struct ProducerError: Error, CustomStringConvertible {
        var description: String
    }

    /// The venv's Python, next to `IMCTL_RDKAFKA_LIBDIR`.
    static func python() throws -> String {
        guard let library = ProcessInfo.processInfo.environment["IMCTL_RDKAFKA_LIBDIR"] else {
            throw KafkaBroker.BrokerError.notProvisioned
        }
        let venv = URL(fileURLWithPath: library).deletingLastPathComponent()
        let python = venv.appendingPathComponent("bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw ProducerError(description: "no Python at \(python) (scripts/kafka-test-broker)")
        }
        return python
    }

    /// Produces `records` in order (acks=all) and returns once the broker stored all of them.
    static func produce(_ records: [Record], to broker: KafkaBroker, topic: String) throws {
        let input = records.map { record -> String in
            let hex = record.key.map { $0.map { String(format: "%02x", $0) }.joined() }
            let key = hex.map { "\"\($0)\"" } ?? "null"
            return #"{"key":\#(key),"value":\#(jsonString(record.value))}"#
        }
        let result = try run(
            try python(), ["-c", script, broker.address, topic],
            stdin: "[" + input.joined(separator: ",") + "]")
        guard result.status == 0 else {
            throw ProducerError(description: "the Python producer failed: \(result.output)")
        }
    }

    /// A JSON string literal of `text` (ASCII control characters and quotes escaped).
    private static func jsonString(_ text: String) -> String {
        var escaped = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case _ where scalar.value < 0x20: escaped += String(format: "\\u%04x", scalar.value)
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped + "\""
    }

    private static let script = """
        import json, sys
        from confluent_kafka import Producer
        broker, topic = sys.argv[1], sys.argv[2]
        errors = []
        def delivered(error, message):
            if error is not None:
                errors.append(str(error))
        producer = Producer({"bootstrap.servers": broker, "acks": "all",
                             "allow.auto.create.topics": False})
        for record in json.load(sys.stdin):
            key = bytes.fromhex(record["key"]) if record["key"] is not None else None
            producer.produce(topic, value=record["value"].encode(), key=key,
                             on_delivery=delivered)
        left = producer.flush(15)
        if left or errors:
            sys.exit(f"not delivered: {left} pending, errors: {errors}")
        """

    private static func run(_ executable: String, _ arguments: [String], stdin: String) throws
        -> (status: Int32, output: String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        let input = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = input
        try process.run()
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()

        // The output is a line or two; reading to EOF cannot block on a full pipe.
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
