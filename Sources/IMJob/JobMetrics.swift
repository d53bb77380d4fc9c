import IMCore

/// What the job role counts. One instance per `Job`; registered by whoever wires the job.
public final class JobMetrics: Sendable {
    /// `multiple` messages taken from the queue.
    public let consumedMultiple = JobMetrics.consumedCounter("multiple")
    /// `broadcast` messages taken from the queue.
    public let consumedBroadcast = JobMetrics.consumedCounter("broadcast")
    /// `broadcast_room` messages taken from the queue.
    public let consumedBroadcastRoom = JobMetrics.consumedCounter("broadcast_room")
    /// Room batches handed to the comets (one per batch, however many comets got it).
    public let roomBatches = Counter(
        "imctl_job_room_batches_total", help: "room batches handed to the comets")
    /// Room messages without `ensure` dropped because their room already had the most
    /// messages waiting (`roomQueueLimit`).
    public let roomDropped = JobMetrics.droppedCounter("room_full")
    /// Room messages dropped because they arrived while the job was stopping.
    public let shutdownDropped = JobMetrics.droppedCounter("stopping")
    /// `multiple` messages for a comet server id the job does not know.
    public let unknownServerDropped = JobMetrics.droppedCounter("unknown_server")
    /// Push, broadcast and room broadcast calls to a comet that failed.
    public let cometErrors = Counter(
        "imctl_job_comet_errors_total", help: "failed calls to comets")
    /// Seconds from a `multiple` message being consumed to every comet call for it returning.
    public let multipleLatency = JobMetrics.latencyHistogram("multiple")
    /// Seconds from a `broadcast` message being consumed to every comet call for it returning.
    public let broadcastLatency = JobMetrics.latencyHistogram("broadcast")

    public init() {}

    /// Every metric, for a registry.
    public var all: [any Metric] {
        [
            consumedMultiple, consumedBroadcast, consumedBroadcastRoom, roomBatches, roomDropped,
            shutdownDropped, unknownServerDropped, cometErrors, multipleLatency, broadcastLatency,
        ]
    }

    private static func consumedCounter(_ op: String) -> Counter {
        Counter(
            "imctl_job_consumed_total", help: "dispatch messages consumed, by op",
            labels: [MetricLabel("op", op)])
    }

    private static func droppedCounter(_ reason: String) -> Counter {
        Counter(
            "imctl_job_dropped_total", help: "dispatch messages dropped by job, by reason",
            labels: [MetricLabel("reason", reason)])
    }

    private static func latencyHistogram(_ op: String) -> Histogram {
        Histogram(
            "imctl_job_push_seconds",
            help: "seconds from consuming a message to handing it to the comets, by op",
            labels: [MetricLabel("op", op)])
    }
}
