/// Latencies in microseconds counted in log-linear buckets: exact below 256 µs, then 128
/// buckets per power of two, so a reported percentile is within 1/128 (< 0.8 %) of the true
/// value. A fixed array of `bucketCount` counters, whatever the number of samples.
struct LatencyHistogram: Sendable, Equatable {
    /// Values below this have a bucket each.
    static let linearLimit: UInt64 = 256
    /// Buckets per power of two above `linearLimit`.
    static let subBuckets: UInt64 = 128
    /// The largest power of two kept apart; larger values share its last bucket (≈ 9 days).
    static let maxExponent = 39
    static let bucketCount = Int(linearLimit) + (maxExponent - 7) * Int(subBuckets)

    private(set) var counts: [UInt64]
    private(set) var total: UInt64 = 0
    /// The largest value recorded, exact.
    private(set) var maxMicros: UInt64 = 0

    init() {
        counts = Array(repeating: 0, count: Self.bucketCount)
    }

    mutating func record(micros: UInt64) {
        counts[Self.bucket(of: micros)] &+= 1
        total &+= 1
        if micros > maxMicros { maxMicros = micros }
    }

    static func bucket(of value: UInt64) -> Int {
        if value < linearLimit { return Int(value) }
        let exponent = min(63 - value.leadingZeroBitCount, maxExponent)
        let shift = UInt64(exponent - 7)
        let subBucket = min(value >> shift, 2 * subBuckets - 1) - subBuckets
        return Int(linearLimit) + (exponent - 8) * Int(subBuckets) + Int(subBucket)
    }

    /// The middle of bucket `index`'s range (its value itself below `linearLimit`).
    static func representative(of index: Int) -> UInt64 {
        if index < Int(linearLimit) { return UInt64(index) }
        let offset = index - Int(linearLimit)
        let exponent = offset / Int(subBuckets) + 8
        let subBucket = UInt64(offset % Int(subBuckets)) + subBuckets
        let shift = UInt64(exponent - 7)
        let low = subBucket << shift
        return low + (1 << shift) / 2
    }

    /// The value at `fraction` (0...1) of the samples, nil when there are none. The top
    /// percentile is clamped to the exact maximum.
    func percentile(_ fraction: Double) -> UInt64? {
        guard total > 0 else { return nil }
        let rank = max(1, UInt64((Double(total) * fraction).rounded(.up)))
        var seen: UInt64 = 0
        for (index, count) in counts.enumerated() where count > 0 {
            seen += count
            if seen >= rank { return min(Self.representative(of: index), maxMicros) }
        }
        return maxMicros
    }

    mutating func merge(_ other: LatencyHistogram) {
        for index in counts.indices where other.counts[index] != 0 {
            counts[index] &+= other.counts[index]
        }
        total &+= other.total
        maxMicros = max(maxMicros, other.maxMicros)
    }

    /// What was recorded since `earlier` (a snapshot of the same histogram). The maximum is
    /// this histogram's, an upper bound for the interval.
    func subtracting(_ earlier: LatencyHistogram) -> LatencyHistogram {
        var delta = self
        for index in counts.indices where earlier.counts[index] != 0 {
            delta.counts[index] &-= earlier.counts[index]
        }
        delta.total &-= earlier.total
        if delta.total == 0 { delta.maxMicros = 0 }
        return delta
    }

    /// The non-empty buckets as `(index, count)` pairs, for the worker pipe.
    var sparse: [[UInt64]] {
        counts.indices.compactMap { counts[$0] == 0 ? nil : [UInt64($0), counts[$0]] }
    }

    /// Rebuilds a histogram from `sparse` pairs; pairs out of range are ignored.
    init(sparse: [[UInt64]], maxMicros: UInt64) {
        self.init()
        for pair in sparse where pair.count == 2 && pair[0] < UInt64(Self.bucketCount) {
            counts[Int(pair[0])] &+= pair[1]
            total &+= pair[1]
        }
        self.maxMicros = maxMicros
    }
}

/// Cumulative counters of a set of simulated clients (one loop, one process, or all of them).
struct SimulationCounters: Sendable, Equatable, Codable {
    /// Authenticated and still open.
    var connected = 0
    /// Authenticated at some point (connected now or disconnected since).
    var authenticated = 0
    /// Never got their auth reply: connect refused, timed out, closed by the server.
    var failed = 0
    /// Closed after authenticating.
    var disconnected = 0
    /// Pushes received (each frame of a batch counts).
    var messages = 0
    /// Bytes read from the sockets.
    var bytes = 0
    /// Heartbeats sent.
    var heartbeats = 0
    /// Malformed data from the server (the client is then closed).
    var protocolErrors = 0

    mutating func add(_ other: SimulationCounters) {
        connected += other.connected
        authenticated += other.authenticated
        failed += other.failed
        disconnected += other.disconnected
        messages += other.messages
        bytes += other.bytes
        heartbeats += other.heartbeats
        protocolErrors += other.protocolErrors
    }

    /// Clients whose connect attempt has ended one way or the other.
    var settled: Int { authenticated + failed }
}

/// A point-in-time view of some clients: counters, latencies, the first failure seen.
struct SimulationSnapshot: Sendable {
    var counters = SimulationCounters()
    var latency = LatencyHistogram()
    var firstError: String?

    mutating func merge(_ other: SimulationSnapshot) {
        counters.add(other.counters)
        latency.merge(other.latency)
        if firstError == nil { firstError = other.firstError }
    }
}

/// The form a worker sends its snapshot in, one JSON line on its stdout.
struct WorkerReport: Codable {
    var counters: SimulationCounters
    var buckets: [[UInt64]]
    var maxMicros: UInt64
    var firstError: String?

    init(_ snapshot: SimulationSnapshot) {
        counters = snapshot.counters
        buckets = snapshot.latency.sparse
        maxMicros = snapshot.latency.maxMicros
        firstError = snapshot.firstError
    }

    var snapshot: SimulationSnapshot {
        SimulationSnapshot(
            counters: counters, latency: LatencyHistogram(sparse: buckets, maxMicros: maxMicros),
            firstError: firstError)
    }
}
