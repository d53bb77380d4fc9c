import IMCore
import Synchronization

/// Coalesces room messages into batches without ever holding a lone message (design §4.7).
///
/// A message for an idle room is sent at once and opens a window; messages arriving during the
/// window wait and go out when a batch is full or when the window ends, and each send opens a
/// new window. A window that ends with nothing waiting makes the room idle again and frees its
/// state.
///
/// Tasks: each active room has one sender task (`runRoom`), the only one that sends for that
/// room, which keeps the room's order; one ticker task (`runTicker`) ends windows for every
/// room. Idle rooms have neither state nor task, and the ticker is suspended while no window is
/// open. `Job.run` starts the tasks: a room that becomes active is announced on `activations`.
final class RoomBatcher: Sendable {
    typealias Deliver = @Sendable (RoomID, [[UInt8]]) async -> Void

    /// Rooms that became active and need a sender task.
    let activations: AsyncStream<RoomID>
    private let activationSink: AsyncStream<RoomID>.Continuation
    private let limits: RoomLimits
    private let table = Mutex(RoomTable())

    init(configuration: JobConfiguration) {
        limits = RoomLimits(configuration)
        (activations, activationSink) = AsyncStream.makeStream(of: RoomID.self)
    }

    /// Rooms with state: a window open or messages waiting.
    var activeRoomCount: Int { table.withLock { $0.rooms.count } }

    /// No more rooms will be activated; `activations` ends once drained.
    func finishActivations() {
        activationSink.finish()
    }

    /// Queues a room message. A full room drops it, unless `ensure` is set: then the caller
    /// waits until the room's sender has taken a batch (bounded by one delivery to the comets).
    func enqueue(_ body: [UInt8], room: RoomID, ensure: Bool) async -> EnqueueOutcome {
        var force = false
        while true {
            let offer = table.withLock { $0.offer(body, to: room, limits: limits, force: force) }
            switch offer {
            case .queued:
                return .queued
            case .activated:
                return activate(room)
            case .full where !ensure:
                return .droppedFull
            case .full:
                await waitForSpace(in: room)
                // A stopping job must not lose an ensure message: it goes in over the limit.
                force = Task.isCancelled
            }
        }
    }

    /// The sender of one room: runs until the room goes idle, or flushes and ends when
    /// cancelled.
    func runRoom(_ room: RoomID, deliver: Deliver) async {
        while true {
            let stopping = Task.isCancelled
            let step = table.withLock { $0.nextStep(for: room, limits: limits, stopping: stopping) }
            switch step {
            case .idle:
                return
            case .wait:
                await waitForFlush(of: room)
            case .deliver(let batches):
                for batch in batches {
                    await deliver(room, batch)
                }
            }
        }
    }

    /// Ends windows when their time is up, until cancelled.
    func runTicker() async {
        while let deadline = await nextDeadline() {
            do {
                try await Task.sleep(until: deadline, clock: .continuous)
            } catch {
                return
            }
            table.withLock { $0.expireWindows(at: .now) }
        }
    }

    /// Frees every room and returns how many messages they still held. For after the senders
    /// have stopped.
    func discardAll() -> Int {
        table.withLock { $0.forgetAll() }
    }

    private func activate(_ room: RoomID) -> EnqueueOutcome {
        if case .terminated = activationSink.yield(room) {
            table.withLock { $0.forget(room) }
            return .droppedStopping
        }
        return .queued
    }

    private func nextDeadline() async -> ContinuousClock.Instant? {
        while !Task.isCancelled {
            if let deadline = table.withLock({ $0.deadlines.first?.instant }) {
                return deadline
            }
            await waitForWindow()
        }
        return nil
    }

    private func waitForWindow() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { waiter in
                table.withLock { table in
                    // Checked under the lock: the cancellation handler runs after the flag is set.
                    if Task.isCancelled || !table.deadlines.isEmpty {
                        waiter.resume()
                    } else {
                        table.tickerWaiter = waiter
                    }
                }
            }
        } onCancel: {
            table.withLock { $0.tickerWaiter.take() }?.resume()
        }
    }

    private func waitForFlush(of room: RoomID) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { waiter in
                table.withLock { table in
                    let ready = table.rooms[room]?.isReadyToFlush(threshold: limits.flushThreshold)
                    if Task.isCancelled || ready ?? true {
                        waiter.resume()
                    } else {
                        table.setFlushWaiter(waiter, for: room)
                    }
                }
            }
        } onCancel: {
            table.withLock { $0.takeFlushWaiter(for: room) }?.resume()
        }
    }

    private func waitForSpace(in room: RoomID) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { waiter in
                table.withLock { table in
                    let full = table.rooms[room]?.isFull(limit: limits.queueLimit)
                    if Task.isCancelled || !(full ?? false) {
                        waiter.resume()
                    } else {
                        table.setSpaceWaiter(waiter, for: room)
                    }
                }
            }
        } onCancel: {
            table.withLock { $0.takeSpaceWaiter(for: room) }?.resume()
        }
    }
}

/// What became of a room message handed to the batcher.
enum EnqueueOutcome: Equatable {
    case queued
    /// The room already had `roomQueueLimit` messages waiting.
    case droppedFull
    /// The job is stopping and no sender would take the room.
    case droppedStopping
}
