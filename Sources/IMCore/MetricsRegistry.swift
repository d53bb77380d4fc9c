import Synchronization

/// The metrics one `/metrics` endpoint exposes. Roles keep their counters in their own
/// objects; whoever wires the process registers them here (`serve all`: every role's in one
/// registry). Registering is done at start-up; a scrape reads the values without stopping
/// anyone.
public final class MetricsRegistry: Sendable {
    private let metrics = Mutex<[any Metric]>([])

    public init() {}

    /// Adds `metric`; false (and nothing added) when it is already registered, its name or a
    /// label name is not valid for Prometheus, another metric has the same name and labels,
    /// or the same name with another type.
    @discardableResult
    public func register(_ metric: any Metric) -> Bool {
        guard Self.hasValidNames(metric) else { return false }
        return metrics.withLock { metrics in
            let clash = metrics.contains { other in
                other === metric
                    || (other.name == metric.name
                        && (other.type != metric.type || other.labels == metric.labels))
            }
            if !clash { metrics.append(metric) }
            return !clash
        }
    }

    /// Adds each of `metrics` (see `register(_:)`); how many were added.
    @discardableResult
    public func register(_ metrics: [any Metric]) -> Int {
        metrics.reduce(0) { added, metric in added + (register(metric) ? 1 : 0) }
    }

    /// Every registered metric, in registration order.
    public var all: [any Metric] { metrics.withLock { $0 } }

    /// The distinct family names, in registration order.
    public var familyNames: [String] {
        var seen = Set<String>()
        return all.map(\.name).filter { seen.insert($0).inserted }
    }

    /// The current values in the text exposition format.
    public func exposition() -> String {
        PrometheusText.render(all)
    }

    private static func hasValidNames(_ metric: any Metric) -> Bool {
        MetricNaming.isValidMetricName(metric.name)
            && metric.labels.allSatisfy { MetricNaming.isValidLabelName($0.name) }
            && Set(metric.labels.map(\.name)).count == metric.labels.count
    }
}
