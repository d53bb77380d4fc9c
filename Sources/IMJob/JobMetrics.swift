import IMCore

/// What the job role counts. One instance per `Job`; read by the admin/metrics output.
public final class JobMetrics: Sendable {
    /// `multiple` messages taken from the queue.
    public let consumedMultiple = Counter(
        "job_consumed_multiple", help: "multiple messages consumed")
    /// `broadcast` messages taken from the queue.
    public let consumedBroadcast = Counter(
        "job_consumed_broadcast", help: "broadcast messages consumed")
    /// `broadcast_room` messages taken from the queue.
    public let consumedBroadcastRoom = Counter(
        "job_consumed_broadcast_room", help: "broadcast_room messages consumed")
    /// Room batches handed to the comets (one per batch, however many comets got it).
    public let roomBatches = Counter("job_room_batches", help: "room batches sent to the comets")
    /// Room messages without `ensure` dropped because their room already had the most
    /// messages waiting (`roomQueueLimit`).
    public let roomDropped = Counter(
        "job_room_dropped", help: "room messages dropped because the room queue was full")
    /// Room messages dropped because they arrived while the job was stopping.
    public let shutdownDropped = Counter(
        "job_shutdown_dropped", help: "room messages dropped while the job was stopping")
    /// `multiple` messages for a comet server id the job does not know.
    public let unknownServerDropped = Counter(
        "job_unknown_server_dropped", help: "multiple messages for an unknown comet server")
    /// Push, broadcast and room broadcast calls to a comet that failed.
    public let cometErrors = Counter("job_comet_errors", help: "failed calls to comets")

    public init() {}

    /// Every counter, for exporting.
    public var all: [Counter] {
        [
            consumedMultiple, consumedBroadcast, consumedBroadcastRoom, roomBatches, roomDropped,
            shutdownDropped, unknownServerDropped, cometErrors,
        ]
    }
}
