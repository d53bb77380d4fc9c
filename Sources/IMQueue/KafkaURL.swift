/// Where the Kafka dispatch queue lives: brokers, topic and librdkafka settings, written as
///
///     kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?property=value&...]
///
/// The query items are librdkafka configuration properties passed through verbatim
/// (`?session.timeout.ms=6000&enable.idempotence=true`), checked by librdkafka while parsing;
/// values may be percent-encoded.
/// `group.id` defaults to `imctl-job`. The brokers and the commit mode are imctl's to set, so
/// `bootstrap.servers`, `metadata.broker.list`, `enable.auto.commit` and
/// `enable.auto.offset.store` are refused in the query.
public struct KafkaURL: Sendable, Equatable, CustomStringConvertible {
    /// The consumer group of job when the URL sets no `group.id`.
    public static let defaultGroupID = "imctl-job"

    /// The longest URL accepted.
    public static let maximumLength = 8192

    /// Properties imctl sets itself (see the type's documentation).
    public static let managedProperties: Set<String> = [
        "bootstrap.servers", "metadata.broker.list", "enable.auto.commit",
        "enable.auto.offset.store",
    ]

    /// `host:port` of each bootstrap broker, as written (IPv6 hosts keep their brackets).
    public var brokers: [String]
    public var topic: String
    /// librdkafka properties from the query, unchanged.
    public var properties: [String: String]

    /// Builds a URL from parts; use `init(parsing:)` for text from outside.
    public init(brokers: [String], topic: String, properties: [String: String] = [:]) {
        self.brokers = brokers
        self.topic = topic
        self.properties = properties
    }

    /// Parses `text`; see the type's documentation for the format.
    ///
    /// - Throws: `KafkaURLError` naming what is wrong.
    public init(parsing text: String) throws(KafkaURLError) {
        guard text.utf8.count <= Self.maximumLength else { throw .tooLong(text.utf8.count) }
        guard let rest = Self.dropScheme(text) else { throw .notKafkaURL(text) }

        let (location, query) = rest.splitOnce("?")
        let (authority, path) = location.splitOnce("/")
        guard let path else { throw .missingTopic }

        brokers = try Self.parseBrokers(authority)
        topic = try Self.validTopic(path)
        properties = try Self.parseProperties(query ?? "")
        try KafkaConfiguration.validate(properties)
    }

    /// The consumer group: `group.id` from the query, else `imctl-job`.
    public var groupID: String { properties["group.id"] ?? Self.defaultGroupID }

    /// The brokers as librdkafka's `bootstrap.servers` value.
    public var bootstrapServers: String { brokers.joined(separator: ",") }

    /// The URL in canonical form (properties sorted), with the values of properties whose
    /// name mentions a password, secret or key masked, so it can be logged.
    public var description: String {
        let query = properties.sorted { $0.key < $1.key }.map { name, value in
            "\(name)=\(Self.isSecret(name) ? "***" : value)"
        }
        let suffix = query.isEmpty ? "" : "?" + query.joined(separator: "&")
        return "kafka://\(bootstrapServers)/\(topic)\(suffix)"
    }

    private static func isSecret(_ name: String) -> Bool {
        ["password", "secret", ".key"].contains { name.lowercased().contains($0) }
    }

    private static func dropScheme(_ text: String) -> Substring? {
        let scheme = "kafka://"
        guard text.lowercased().hasPrefix(scheme) else { return nil }
        return text.dropFirst(scheme.count)
    }
}

// MARK: - Parts

extension KafkaURL {
    private static func parseBrokers(_ authority: Substring) throws(KafkaURLError) -> [String] {
        guard !authority.isEmpty else { throw .missingBroker }

        var brokers: [String] = []
        for broker in authority.split(separator: ",", omittingEmptySubsequences: false) {
            try checkBroker(broker)
            brokers.append(String(broker))
        }
        return brokers
    }

    private static func checkBroker(_ broker: Substring) throws(KafkaURLError) {
        guard let colon = broker.lastIndex(of: ":") else {
            throw .invalidBroker(String(broker), reason: "expected HOST:PORT")
        }
        let host = broker[..<colon]
        let port = broker[broker.index(after: colon)...]

        guard isValidHost(host) else {
            throw .invalidBroker(String(broker), reason: "invalid host \"\(host)\"")
        }
        guard let number = Int(port), (1...65535).contains(number), port.first != "+" else {
            throw .invalidBroker(String(broker), reason: "port must be 1-65535")
        }
    }

    /// A DNS name, an IPv4 address, or an IPv6 address in brackets.
    private static func isValidHost(_ host: Substring) -> Bool {
        if host.first == "[" {
            let inner = host.dropFirst().dropLast()
            return host.last == "]" && !inner.isEmpty
                && inner.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        }
        return !host.isEmpty && host.count <= 253
            && host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }
    }

    /// Kafka's own rule: 1-249 of `[A-Za-z0-9._-]`, and not `.` or `..`.
    private static func validTopic(_ path: Substring) throws(KafkaURLError) -> String {
        let topic = String(path)
        guard !topic.isEmpty else { throw .missingTopic }
        guard topic.count <= 249 else { throw .invalidTopic(topic, reason: "longer than 249") }
        guard topic != ".", topic != ".." else {
            throw .invalidTopic(topic, reason: "reserved name")
        }
        guard topic.allSatisfy(isNameCharacter) else {
            throw .invalidTopic(topic, reason: "only letters, digits, '.', '_' and '-' allowed")
        }
        return topic
    }

    private static func isNameCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || "._-".contains(character))
    }

    private static func parseProperties(
        _ query: Substring
    ) throws(KafkaURLError) -> [String: String] {
        var properties: [String: String] = [:]
        for item in query.split(separator: "&") {
            let (name, value) = item.splitOnce("=")
            let property = String(name)
            try checkPropertyName(property, hasValue: value != nil)
            guard properties[property] == nil else {
                throw .invalidProperty(property, reason: "given twice")
            }

            guard let decoded = percentDecoded(value ?? "") else {
                throw .invalidProperty(property, reason: "bad percent-encoding in the value")
            }
            properties[property] = decoded
        }
        return properties
    }

    private static func checkPropertyName(_ name: String, hasValue: Bool) throws(KafkaURLError) {
        guard !name.isEmpty, name.allSatisfy(isNameCharacter) else {
            throw .invalidProperty(name, reason: "not a property name")
        }
        guard hasValue else { throw .invalidProperty(name, reason: "expected \(name)=VALUE") }
        guard !managedProperties.contains(name) else { throw .managedProperty(name) }
    }

    /// `%XX` escapes decoded (`+` stays `+`); nil for a broken escape or non-UTF-8 result.
    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue),
                let low = iterator.next().flatMap(hexValue)
            else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension Substring {
    /// The parts before and after the first `separator`; nil after when it does not occur.
    fileprivate func splitOnce(_ separator: Character) -> (Substring, Substring?) {
        guard let index = firstIndex(of: separator) else { return (self, nil) }
        return (self[..<index], self[index...].dropFirst())
    }
}

extension String {
    fileprivate func splitOnce(_ separator: Character) -> (Substring, Substring?) {
        self[...].splitOnce(separator)
    }
}

/// Why a `kafka://` URL was refused. The description is one line meant for a usage error.
public enum KafkaURLError: Error, Sendable, Equatable, CustomStringConvertible {
    case notKafkaURL(String)
    case tooLong(Int)
    case missingBroker
    case invalidBroker(String, reason: String)
    case missingTopic
    case invalidTopic(String, reason: String)
    /// A query item that is malformed, repeated, or that librdkafka rejects.
    case invalidProperty(String, reason: String)
    /// A property imctl sets itself (`KafkaURL.managedProperties`).
    case managedProperty(String)

    public static let usage = "kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?property=value&...]"

    public var description: String {
        switch self {
        case .notKafkaURL(let text):
            return "\"\(text.prefix(100))\" is not a Kafka URL; expected \(Self.usage)"
        case .tooLong(let length):
            return "Kafka URL is \(length) bytes long (at most \(KafkaURL.maximumLength))"
        case .missingBroker:
            return "Kafka URL names no broker; expected \(Self.usage)"
        case .invalidBroker(let broker, let reason):
            return "Kafka broker \"\(broker.prefix(100))\" is invalid: \(reason)"
        case .missingTopic:
            return "Kafka URL names no topic; expected \(Self.usage)"
        case .invalidTopic(let topic, let reason):
            return "Kafka topic \"\(topic.prefix(100))\" is invalid: \(reason)"
        case .invalidProperty(let name, let reason):
            return "Kafka property \"\(name.prefix(100))\" is invalid: \(reason)"
        case .managedProperty(let name):
            return "Kafka property \"\(name)\" is set by imctl and cannot be given in the URL"
        }
    }
}
