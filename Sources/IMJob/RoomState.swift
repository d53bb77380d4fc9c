import IMCore
import IMQueue

/// One active room: the messages waiting for its next batch and its open window. A room has
/// a `RoomState` only while it is active; an idle room costs nothing.
struct RoomState {
    /// Bodies waiting, oldest first. Bounded by the queue limit (at most one more when an
    /// `ensure` message is forced in while the job stops).
    private(set) var pending: [[UInt8]]
    /// The id of the open window, nil while none is open.
    var window: UInt64?
    /// The room's sender, suspended until there is something to send.
    var flushWaiter: CheckedContinuation<Void, Never>?
    /// The consumer, suspended until the room has space for an `ensure` message.
    var spaceWaiter: CheckedContinuation<Void, Never>?

    init(first body: [UInt8]) {
        pending = [body]
    }

    /// Whether the sender has something to do: a full batch, or a window that has ended.
    func isReadyToFlush(threshold: Int) -> Bool {
        window == nil || pending.count >= threshold
    }

    func isFull(limit: Int) -> Bool {
        pending.count >= limit
    }

    /// Adds `body` unless the room is full (`force` adds it anyway). Wakes the sender when a
    /// batch is complete.
    mutating func offer(_ body: [UInt8], limits: RoomLimits, force: Bool) -> Bool {
        guard force || !isFull(limit: limits.queueLimit) else { return false }

        pending.append(body)
        if pending.count >= limits.flushThreshold {
            flushWaiter.take()?.resume()
        }
        return true
    }

    /// What the sender does next. While a window is open only full batches go out; once it
    /// has ended (or the job stops), everything waiting goes out, or the room goes idle.
    mutating func nextStep(limits: RoomLimits, stopping: Bool) -> RoomStep {
        if window != nil, !stopping {
            guard pending.count >= limits.flushThreshold else { return .wait }
            return .deliver([takeFirst(limits.batchSize)])
        }
        guard !pending.isEmpty else { return .idle }

        var batches: [[[UInt8]]] = []
        while !pending.isEmpty {
            batches.append(takeFirst(limits.batchSize))
        }
        return .deliver(batches)
    }

    /// Resumes whoever waits on this room, before its state is dropped.
    mutating func releaseWaiters() {
        flushWaiter.take()?.resume()
        spaceWaiter.take()?.resume()
    }

    /// Ends the window; the sender flushes what is waiting.
    mutating func closeWindow() {
        window = nil
        flushWaiter.take()?.resume()
    }

    /// Takes up to `count` bodies and lets a consumer waiting for space try again.
    private mutating func takeFirst(_ count: Int) -> [[UInt8]] {
        spaceWaiter.take()?.resume()
        guard count < pending.count else {
            defer { pending = [] }
            return pending
        }

        let batch = Array(pending[..<count])
        pending.removeFirst(count)
        return batch
    }
}

enum RoomStep {
    /// Send these batches in order; a new window opens with them.
    case deliver([[[UInt8]]])
    /// Nothing to send before the window ends or a batch fills.
    case wait
    /// Nothing waiting and no window open: the room's state has been freed.
    case idle
}

/// The batching limits, normalised from `JobConfiguration`.
struct RoomLimits: Sendable {
    /// The most bodies per batch; at least 1.
    let batchSize: Int
    /// The most bodies waiting per room; at least 1.
    let queueLimit: Int
    /// Pending bodies that make the sender flush before its window ends.
    let flushThreshold: Int
    /// How long a room collects after sending; nil when batching is off.
    let window: Duration?

    init(_ configuration: JobConfiguration) {
        batchSize = configuration.isBatching ? configuration.roomBatchSize : 1
        queueLimit = max(1, configuration.roomQueueLimit)
        flushThreshold = min(batchSize, queueLimit)
        window = configuration.isBatching ? configuration.roomBatchWindow : nil
    }
}

/// When an open window ends. Windows end in the order they opened, because they all last
/// the same time, so a FIFO of these is also sorted by deadline.
struct WindowDeadline {
    let instant: ContinuousClock.Instant
    let room: RoomID
    let window: UInt64
}

/// Every active room and the deadlines of their windows, behind `RoomBatcher`'s lock.
struct RoomTable {
    private(set) var rooms: [RoomID: RoomState] = [:]
    private(set) var deadlines = FIFO<WindowDeadline>()
    /// The ticker, suspended while no window is open.
    var tickerWaiter: CheckedContinuation<Void, Never>?
    /// Window ids are unique across rooms and room lifetimes, so a deadline left from a
    /// window that was replaced can never close a newer one.
    private var lastWindow: UInt64 = 0

    /// Queues `body` for `room`; `.activated` when the room was idle and needs a sender.
    mutating func offer(
        _ body: [UInt8], to room: RoomID, limits: RoomLimits, force: Bool
    ) -> RoomOffer {
        guard rooms[room] != nil else {
            rooms[room] = RoomState(first: body)
            return .activated
        }
        let accepted = rooms[room]?.offer(body, limits: limits, force: force) ?? false
        return accepted ? .queued : .full
    }

    /// The sender's next step; frees the room when it goes idle. Every send opens a new
    /// window, a full batch's too: a window is the time since the room last sent, so a room
    /// at a steady rate keeps sending full batches and never looks idle to its next message.
    mutating func nextStep(for room: RoomID, limits: RoomLimits, stopping: Bool) -> RoomStep {
        guard let step = rooms[room]?.nextStep(limits: limits, stopping: stopping) else {
            return .idle
        }

        switch step {
        case .idle:
            forget(room)
        case .deliver:
            if let window = limits.window, !stopping {
                openWindow(for: room, lasting: window)
            }
        case .wait:
            break
        }
        return step
    }

    mutating func forget(_ room: RoomID) {
        rooms[room]?.releaseWaiters()
        rooms[room] = nil
    }

    /// Frees every room; returns the number of messages they held.
    mutating func forgetAll() -> Int {
        let held = rooms.values.reduce(0) { $0 + $1.pending.count }
        for room in rooms.keys {
            forget(room)
        }
        deadlines = FIFO()
        tickerWaiter.take()?.resume()
        return held
    }

    mutating func setFlushWaiter(_ waiter: CheckedContinuation<Void, Never>?, for room: RoomID) {
        rooms[room]?.flushWaiter = waiter
    }

    mutating func takeFlushWaiter(for room: RoomID) -> CheckedContinuation<Void, Never>? {
        rooms[room]?.flushWaiter.take()
    }

    mutating func setSpaceWaiter(_ waiter: CheckedContinuation<Void, Never>?, for room: RoomID) {
        rooms[room]?.spaceWaiter.take()?.resume()
        rooms[room]?.spaceWaiter = waiter
    }

    mutating func takeSpaceWaiter(for room: RoomID) -> CheckedContinuation<Void, Never>? {
        rooms[room]?.spaceWaiter.take()
    }

    /// Closes every window whose deadline is not after `now`.
    mutating func expireWindows(at now: ContinuousClock.Instant) {
        while let deadline = deadlines.first, deadline.instant <= now {
            _ = deadlines.popFirst()
            if rooms[deadline.room]?.window == deadline.window {
                rooms[deadline.room]?.closeWindow()
            }
        }
    }

    private mutating func openWindow(for room: RoomID, lasting window: Duration) {
        lastWindow &+= 1
        rooms[room]?.window = lastWindow
        deadlines.append(
            WindowDeadline(instant: .now + window, room: room, window: lastWindow))
        tickerWaiter.take()?.resume()
    }
}

enum RoomOffer {
    case queued
    case activated
    case full
}
