import IMCore
import Synchronization

/// The job role: takes dispatch messages off the queue and hands them to the comets.
///
/// - `multiple` goes to the one comet named by `server` (`push(keys:bodies:)`); a server id
///   the directory does not know is dropped, counted and logged.
/// - `broadcast` goes to every comet (`broadcast(bodies:)`).
/// - `broadcast_room` goes through the room batcher and then to **every** comet
///   (`broadcastRoom(_:bodies:)`); a comet ignores rooms it has no members in. Unlike goim,
///   job keeps no room → comet map, so a room's first member never misses messages.
///
/// Delivery: `multiple` and `broadcast` calls are awaited by the consumer, which keeps their
/// order and lets a slow comet push back on the queue. Room batches are sent by each room's own
/// sender task; a slow comet thus slows only the rooms that have batches on their way, and
/// in-process comet calls return as soon as the frames are queued. A broadcast or room batch
/// goes to every comet the directory knows at that moment, to all of them at once, and the
/// next one waits until each has answered, which keeps the order per comet. A failing comet
/// call is counted and logged, never fatal, and the other comets still get the message.
public final class Job: Sendable {
    public let configuration: JobConfiguration
    public let metrics = JobMetrics()
    private let consumer: any DispatchConsumer
    private let comets: any CometDirectory
    private let batcher: RoomBatcher
    private let logger = Logger(label: "job")
    private let warnings: RateLimitedLogger
    private let hasStarted = Atomic(false)

    public init(
        consumer: any DispatchConsumer, comets: any CometDirectory,
        configuration: JobConfiguration = JobConfiguration()
    ) {
        self.consumer = consumer
        self.comets = comets
        self.configuration = configuration
        batcher = RoomBatcher(configuration: configuration)
        warnings = RateLimitedLogger(logger: logger)
    }

    /// Rooms with messages waiting or a batching window open; idle rooms are not counted.
    public var activeRoomCount: Int { batcher.activeRoomCount }

    /// Consumes until the task is cancelled or the consumer ends (memory queue closed), then
    /// sends what the rooms still hold and returns. A job runs once.
    ///
    /// - Throws: what the consumer throws; `JobError.alreadyStarted` on a second call.
    public func run() async throws {
        let start = hasStarted.compareExchange(expected: false, desired: true, ordering: .relaxed)
        guard start.exchanged else { throw JobError.alreadyStarted }

        logger.info("job started", metadataForStart())
        defer { stopped() }

        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.batcher.runTicker() }
            group.addTask { try await self.consume() }

            for await room in batcher.activations {
                group.addTask {
                    await self.batcher.runRoom(room) { await self.deliverRoomBatch($1, to: $0) }
                }
            }
            // The consumer is done: room senders flush what they hold, the ticker stops.
            group.cancelAll()
        }
    }

    /// Rooms activated while the job was being cancelled never got a sender: count what they
    /// held as dropped.
    private func stopped() {
        let abandoned = batcher.discardAll()
        if abandoned > 0 {
            metrics.shutdownDropped.increment(by: abandoned)
            logger.warning("dropped room messages: job stopped", ["count": "\(abandoned)"])
        }
        logger.info("job stopped")
    }

    private func consume() async throws {
        defer { batcher.finishActivations() }
        try await consumer.run { message in await self.handle(message) }
    }

    func handle(_ message: DispatchMessage) async {
        switch message.kind {
        case .multiple:
            metrics.consumedMultiple.increment()
            let start = ContinuousClock.now
            await push(message)
            metrics.multipleLatency.observe(since: start)
        case .broadcast:
            metrics.consumedBroadcast.increment()
            let start = ContinuousClock.now
            await broadcast(message.body)
            metrics.broadcastLatency.observe(since: start)
        case .broadcastRoom:
            metrics.consumedBroadcastRoom.increment()
            await enqueueRoomMessage(message)
        }
    }

    private func push(_ message: DispatchMessage) async {
        guard let comet = comets.comet(message.server) else {
            metrics.unknownServerDropped.increment()
            warnings.warning("dropped push for an unknown comet", ["comet.id": "\(message.server)"])
            return
        }

        do {
            try await comet.push(keys: message.keys, bodies: [message.body])
        } catch {
            cometCallFailed(comet, call: "push", error)
        }
    }

    private func broadcast(_ body: [UInt8]) async {
        await forEachComet(call: "broadcast") { try await $0.broadcast(bodies: [body]) }
    }

    private func enqueueRoomMessage(_ message: DispatchMessage) async {
        let outcome = await batcher.enqueue(
            message.body, room: message.room, ensure: message.ensure)
        switch outcome {
        case .queued:
            break
        case .droppedFull:
            metrics.roomDropped.increment()
            warnings.warning(
                "dropped room message: room queue full", ["room.id": "\(message.room)"])
        case .droppedStopping:
            metrics.shutdownDropped.increment()
            warnings.warning("dropped room message: job stopping", ["room.id": "\(message.room)"])
        }
    }

    private func deliverRoomBatch(_ bodies: [[UInt8]], to room: RoomID) async {
        await forEachComet(call: "broadcast_room") {
            try await $0.broadcastRoom(room, bodies: bodies)
        }
        metrics.roomBatches.increment()
    }

    /// Makes `call` on every comet known now, all at once, and returns when each has answered
    /// or failed: a slow or unreachable comet delays the others' copy by nothing, and the
    /// next message of this sender by at most its RPC timeout. A failure is counted, logged
    /// and does not stop the calls to the other comets.
    private func forEachComet(
        call: String, _ body: @escaping @Sendable (any CometClient) async throws -> Void
    ) async {
        let targets = comets.allComets()
        if targets.count == 1, let comet = targets.first {
            await callComet(comet, call: call, body)
            return
        }
        await withDiscardingTaskGroup { group in
            for comet in targets {
                group.addTask { await self.callComet(comet, call: call, body) }
            }
        }
    }

    private func callComet(
        _ comet: any CometClient, call: String,
        _ body: @Sendable (any CometClient) async throws -> Void
    ) async {
        do {
            try await body(comet)
        } catch {
            cometCallFailed(comet, call: call, error)
        }
    }

    private func cometCallFailed(_ comet: any CometClient, call: String, _ error: any Error) {
        metrics.cometErrors.increment()
        warnings.warning(
            "comet call failed",
            ["comet.id": "\(comet.serverID)", "call": call, "error": "\(error)"])
    }

    private func metadataForStart() -> [String: String] {
        [
            "room.batch": "\(configuration.roomBatchSize)",
            "room.window": configuration.roomBatchWindow.shortDescription,
            "room.queue": "\(configuration.roomQueueLimit)",
        ]
    }
}

public enum JobError: Error, Sendable, Equatable {
    /// `run()` was called on a job that already ran.
    case alreadyStarted
}
