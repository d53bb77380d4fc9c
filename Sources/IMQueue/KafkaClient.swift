import CRdKafka
import IMCore

/// The librdkafka that this process loaded (tests need 2.x newer than Debian's 2.0.2 to talk
/// to the tansu test broker; see docs/kafka.md).
public enum KafkaLibrary {
    /// For example `2.16.1`.
    public static var version: String { String(cString: rd_kafka_version_str()) }

    /// `0xMMmmrrxx` (major, minor, revision, pre-release), as `rd_kafka_version()` reports it.
    public static var versionNumber: Int { Int(rd_kafka_version()) }
}

/// A librdkafka handle (`rd_kafka_t`, `rd_kafka_topic_t`). librdkafka's handles may be used
/// from any thread; the owners of these handles keep them alive until every thread that uses
/// them has stopped, and destroy them once.
struct KafkaHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// Builds librdkafka configurations from `name=value` settings; later settings win.
enum KafkaConfiguration {
    /// Checks `properties` against librdkafka without connecting anywhere.
    static func validate(_ properties: [String: String]) throws(KafkaURLError) {
        let conf = try make(properties.map { ($0.key, $0.value) })
        rd_kafka_conf_destroy(conf)
    }

    /// A new `rd_kafka_conf_t` holding `settings`, with our log callback installed.
    static func make(_ settings: [(String, String)]) throws(KafkaURLError) -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        rd_kafka_conf_set_log_cb(conf) { _, level, facility, text in
            kafkaLog(level: level, facility: facility, text: text)
        }

        for (name, value) in settings {
            if let reason = set(conf, name, value) {
                rd_kafka_conf_destroy(conf)
                throw .invalidProperty(name, reason: reason)
            }
        }
        return conf
    }

    /// librdkafka's complaint, or nil when the property was accepted.
    private static func set(_ conf: OpaquePointer, _ name: String, _ value: String) -> String? {
        var reason = [CChar](repeating: 0, count: 512)
        let result = rd_kafka_conf_set(conf, name, value, &reason, reason.count)
        guard result != RD_KAFKA_CONF_OK else { return nil }
        return text(reason)
    }

    /// Creates a client from `conf`; `conf` is consumed either way.
    static func makeClient(
        _ type: rd_kafka_type_t, _ conf: OpaquePointer
    ) throws(QueueError) -> KafkaHandle {
        var reason = [CChar](repeating: 0, count: 512)
        guard let client = rd_kafka_new(type, conf, &reason, reason.count) else {
            rd_kafka_conf_destroy(conf)
            throw .unavailable("cannot create the Kafka client: \(text(reason))")
        }
        return KafkaHandle(pointer: client)
    }

    /// The NUL-terminated text librdkafka wrote into `buffer`.
    private static func text(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The level for an error librdkafka reports through its error callback. Connection
/// failures are already in librdkafka's log, so they go to debug here.
func kafkaErrorLevel(_ code: Int32) -> Logger.Level {
    switch rd_kafka_resp_err_t(rawValue: code) {
    case RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__RESOLVE: return .debug
    case RD_KAFKA_RESP_ERR__FATAL: return .error
    default: return .warning
    }
}

extension Duration {
    /// The duration in whole milliseconds (rounded down), as librdkafka's settings want it.
    var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}

/// librdkafka's own text for `code`.
func kafkaErrorText(_ code: rd_kafka_resp_err_t) -> String {
    String(cString: rd_kafka_err2str(code))
}

let kafkaLogger = Logger(label: "kafka")

/// librdkafka repeats a failing connection's warning every few hundred milliseconds while a
/// broker is down; one line per facility per 10 s is enough (the rest go to debug).
private let kafkaWarnings = RateLimitedLogger(logger: kafkaLogger)

/// librdkafka's log lines (syslog levels) at our levels. Its "error" lines are mostly a
/// broker that cannot be reached, which an operator should look at (warning); its
/// informational lines are per-connection detail (debug).
private func kafkaLog(
    level: Int32, facility: UnsafePointer<CChar>?, text: UnsafePointer<CChar>?
) {
    let ours: Logger.Level
    switch level {
    case ...2: ours = .error
    case 3, 4: ours = .warning
    case 5: ours = .notice
    case 6: ours = .debug
    default: ours = .trace
    }
    guard kafkaLogger.isEnabled(ours) else { return }

    let message = text.map { String(cString: $0) } ?? ""
    let source = facility.map { String(cString: $0) } ?? "?"
    let level = isExpectedScopeWarning(source, message) ? .debug : ours
    guard level == .warning else {
        kafkaLogger.log(level, "librdkafka: \(message)", ["kafka.facility": source])
        return
    }
    // The facility names come from a small fixed set in librdkafka: a bounded limiter table.
    kafkaWarnings.warning(
        "librdkafka \(source)", ["kafka.facility": source, "message": message])
}

/// One URL configures both clients, so the producer is always told that `group.id` is a
/// consumer property and the consumer that `linger.ms` is a producer one. These lines are
/// expected and only matter when debugging; librdkafka offers no code to tell them apart.
private func isExpectedScopeWarning(_ facility: String, _ message: String) -> Bool {
    facility == "CONFWARN" && message.contains(" property and will be ignored by this ")
}
