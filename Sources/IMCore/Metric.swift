/// Something a `MetricsRegistry` can expose: one series (or, for a histogram, one set of
/// series) of the family `name`. Several metrics may share a name when their labels differ;
/// the registry writes them as one family.
public protocol Metric: AnyObject, Sendable {
    /// The family name, `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    var name: String { get }
    /// One line of help for the family (any text; it is escaped on output).
    var help: String { get }
    /// Constant labels telling this series from others of the same family.
    var labels: [MetricLabel] { get }
    var type: MetricType { get }
    /// The current values, read when the metrics are scraped.
    func samples() -> [MetricSample]
}

/// The Prometheus metric types imctl uses.
public enum MetricType: String, Sendable {
    case counter, gauge, histogram
}

/// One constant label, `name="value"`. The name must be `[a-zA-Z_][a-zA-Z0-9_]*` (and not
/// start with `__`); the value is any text (escaped on output).
public struct MetricLabel: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// One line of the exposition: `<family name><suffix>{labels} value`.
public struct MetricSample: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case integer(Int)
        case double(Double)
    }

    /// Added to the family name: "" for counters and gauges, `_bucket`, `_sum`, `_count`.
    public var suffix: String
    public var labels: [MetricLabel]
    public var value: Value

    public init(suffix: String, labels: [MetricLabel], value: Value) {
        self.suffix = suffix
        self.labels = labels
        self.value = value
    }
}

/// Which names and label names Prometheus accepts.
public enum MetricNaming {
    public static func isValidMetricName(_ name: String) -> Bool {
        isValid(name, allowColon: true)
    }

    public static func isValidLabelName(_ name: String) -> Bool {
        isValid(name, allowColon: false) && !name.hasPrefix("__")
    }

    private static func isValid(_ name: String, allowColon: Bool) -> Bool {
        guard let first = name.utf8.first, !isDigit(first) else { return false }
        return name.utf8.allSatisfy { byte in
            isLetter(byte) || isDigit(byte) || byte == UInt8(ascii: "_")
                || (allowColon && byte == UInt8(ascii: ":"))
        }
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
