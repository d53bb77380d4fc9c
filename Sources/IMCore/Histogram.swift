import Synchronization

/// A distribution of observed values (latencies in seconds) over fixed buckets, safe to
/// observe from any thread without a lock: an observation is a short scan of the bounds, one
/// relaxed atomic add on its bucket and a compare-and-swap loop on the sum.
///
/// Buckets are counted apart and made cumulative only when scraped (`_bucket{le="..."}`, with
/// `le="+Inf"` equal to `_count`), so a scrape racing observations may see `_sum` and the
/// buckets from slightly different instants — as with any Prometheus client.
public final class Histogram: Metric {
    /// Latency buckets from 0.5 ms to 10 s, for push and RPC latencies.
    public static let latencyBuckets: [Double] = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]

    public let name: String
    public let help: String
    public let labels: [MetricLabel]
    /// The finite upper bounds, ascending; a last, implicit bucket holds everything above.
    public let upperBounds: [Double]
    /// One per upper bound plus the +Inf bucket; each counts only its own range.
    private let buckets: [BucketCell]
    /// The sum of observations, as the bit pattern of a `Double`.
    private let sumBits = Atomic<UInt64>(0)

    /// - Parameter buckets: upper bounds; sorted, duplicates and non-finite ones dropped.
    ///   A `le` label among `labels` would clash with the buckets' own and is dropped too.
    public init(
        _ name: String, help: String, labels: [MetricLabel] = [],
        buckets: [Double] = Histogram.latencyBuckets
    ) {
        self.name = name
        self.help = help
        self.labels = labels.filter { $0.name != "le" }
        upperBounds = Array(Set(buckets.filter(\.isFinite))).sorted()
        self.buckets = (0...upperBounds.count).map { _ in BucketCell() }
    }

    /// Records `value`; NaN is ignored.
    public func observe(_ value: Double) {
        guard !value.isNaN else { return }

        var index = 0
        while index < upperBounds.count, value > upperBounds[index] { index += 1 }
        buckets[index].count.wrappingAdd(1, ordering: .relaxed)
        addToSum(value)
    }

    /// Records the time since `start`, in seconds.
    public func observe(since start: ContinuousClock.Instant) {
        observe(Self.seconds(ContinuousClock.now - start))
    }

    /// Observations so far.
    public var count: Int {
        buckets.reduce(0) { $0 + $1.count.load(ordering: .relaxed) }
    }

    /// The sum of the observations so far.
    public var sum: Double { Double(bitPattern: sumBits.load(ordering: .relaxed)) }

    /// Cumulative counts per upper bound, then the +Inf bucket (equal to `count`).
    public var cumulativeCounts: [Int] {
        var total = 0
        return buckets.map { cell in
            total += cell.count.load(ordering: .relaxed)
            return total
        }
    }

    public var type: MetricType { .histogram }

    public func samples() -> [MetricSample] {
        let cumulative = cumulativeCounts
        var samples: [MetricSample] = []
        samples.reserveCapacity(cumulative.count + 2)
        for (index, total) in cumulative.enumerated() {
            let bound = index < upperBounds.count
                ? PrometheusText.format(upperBounds[index]) : "+Inf"
            samples.append(
                MetricSample(
                    suffix: "_bucket", labels: labels + [MetricLabel("le", bound)],
                    value: .integer(total)))
        }
        samples.append(MetricSample(suffix: "_sum", labels: labels, value: .double(sum)))
        samples.append(
            MetricSample(suffix: "_count", labels: labels, value: .integer(cumulative.last ?? 0)))
        return samples
    }

    static func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }

    private func addToSum(_ value: Double) {
        var old = sumBits.load(ordering: .relaxed)
        while true {
            let new = (Double(bitPattern: old) + value).bitPattern
            let result = sumBits.compareExchange(
                expected: old, desired: new, ordering: .relaxed)
            if result.exchanged { return }
            old = result.original
        }
    }
}

/// One bucket's count (`Atomic` cannot live in an array directly).
private final class BucketCell: Sendable {
    let count = Atomic<Int>(0)
}
