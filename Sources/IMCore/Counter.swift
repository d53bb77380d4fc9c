import Synchronization

/// A monotonically increasing count, safe to bump from any thread. Every drop, disconnect
/// reason and delivery that the server must account for is a `Counter`.
///
/// The name and constant labels are fixed at creation, so bumping is one relaxed atomic add:
/// labels cost nothing on the hot path. Prometheus counters are named `*_total`.
public final class Counter: Metric {
    public let name: String
    public let help: String
    public let labels: [MetricLabel]
    private let value = Atomic<Int>(0)

    public init(_ name: String, help: String, labels: [MetricLabel] = []) {
        self.name = name
        self.help = help
        self.labels = labels
    }

    public func increment(by amount: Int = 1) {
        value.wrappingAdd(amount, ordering: .relaxed)
    }

    public var current: Int { value.load(ordering: .relaxed) }

    public var type: MetricType { .counter }

    public func samples() -> [MetricSample] {
        [MetricSample(suffix: "", labels: labels, value: .integer(current))]
    }
}

/// A value that goes up and down (open connections, queue depth).
public final class Gauge: Metric {
    public let name: String
    public let help: String
    public let labels: [MetricLabel]
    private let value = Atomic<Int>(0)

    public init(_ name: String, help: String, labels: [MetricLabel] = []) {
        self.name = name
        self.help = help
        self.labels = labels
    }

    public func add(_ amount: Int) { value.wrappingAdd(amount, ordering: .relaxed) }
    public func set(_ amount: Int) { value.store(amount, ordering: .relaxed) }
    public var current: Int { value.load(ordering: .relaxed) }

    public var type: MetricType { .gauge }

    public func samples() -> [MetricSample] {
        [MetricSample(suffix: "", labels: labels, value: .integer(current))]
    }
}

/// A gauge whose value is read when the metrics are scraped (a queue's depth), for values
/// that already live elsewhere and would cost a write on every change to mirror.
public final class ComputedGauge: Metric {
    public let name: String
    public let help: String
    public let labels: [MetricLabel]
    private let read: @Sendable () -> Int

    public init(
        _ name: String, help: String, labels: [MetricLabel] = [],
        read: @escaping @Sendable () -> Int
    ) {
        self.name = name
        self.help = help
        self.labels = labels
        self.read = read
    }

    public var current: Int { read() }

    public var type: MetricType { .gauge }

    public func samples() -> [MetricSample] {
        [MetricSample(suffix: "", labels: labels, value: .integer(current))]
    }
}
