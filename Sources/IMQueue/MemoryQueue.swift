import IMCore
import Synchronization

/// The in-process dispatch queue of `serve all`: logic publishes, job consumes, and nothing
/// survives the process (at-most-once, see design §7).
///
/// Bounded: at most `capacity` messages wait (default 65,536); `publish` on a full queue fails
/// at once with `QueueError.full` rather than making the HTTP handler wait. One consumer at a
/// time receives the messages in publish order; while the queue is empty it is suspended, not
/// polling. After `close()` publishing fails with `.unavailable`, and the consumer gets what is
/// still queued and then returns.
public final class MemoryQueue: ImmediateDispatchPublisher, DispatchConsumer {
    public static let defaultCapacity = 65_536

    /// The most messages that can wait for the consumer; at least 1.
    public let capacity: Int
    /// Messages left by `publishNow` that wake a sleeping consumer at once: one loop
    /// iteration can read more requests than the queue holds, and they must not be refused
    /// while the consumer sleeps until the iteration ends.
    private let eagerWakeDepth: Int
    /// Messages accepted by `publish`.
    public let published = Counter(
        "imctl_queue_published_total", help: "dispatch messages the memory queue accepted")
    /// Messages refused because the queue was full.
    public let rejectedFull = Counter(
        "imctl_queue_rejected_full_total",
        help: "dispatch messages refused (dropped, the caller got 503) because the queue was full")

    private let state = Mutex(State())

    public init(capacity: Int = MemoryQueue.defaultCapacity) {
        self.capacity = max(1, capacity)
        eagerWakeDepth = min(1024, max(1, self.capacity / 2))
    }

    /// Every metric, for a registry: the counters and the depth.
    public var metrics: [any Metric] {
        let depth = ComputedGauge(
            "imctl_queue_depth", help: "dispatch messages waiting in the memory queue for job"
        ) { [weak self] in self?.depth ?? 0 }
        return [published, rejectedFull, depth]
    }

    /// "queue closed" after `close()`, "queue full" at capacity, else nil.
    public var unavailableReason: String? {
        state.withLock { state in
            if state.isClosed { return "queue closed" }
            return state.buffer.count >= capacity ? "queue full" : nil
        }
    }

    /// Messages waiting for the consumer.
    public var depth: Int { state.withLock { $0.buffer.count } }

    /// Whether a consumer is suspended waiting for a message (for tests and diagnostics).
    public var hasWaitingConsumer: Bool { state.withLock { $0.waiter != nil } }

    /// Enqueues `message`, or hands it straight to a waiting consumer. Never waits.
    ///
    /// - Throws: `QueueError.full` when `capacity` messages are waiting;
    ///   `QueueError.unavailable` after `close()`.
    public func publish(_ message: DispatchMessage) throws(QueueError) {
        let handOver = try accept { state throws(QueueError) in
            try state.append(message, capacity: capacity)
            return state.takeHandOver()
        }
        if let handOver { handOver.waiter.resume(returning: handOver.message) }
    }

    /// Enqueues `message` like `publish(_:)` but leaves a waiting consumer asleep. True when
    /// the consumer waits and no wake-up is due yet: the caller must call `wakeConsumer()`
    /// soon. Until then further messages wait in the queue, in order; once `eagerWakeDepth`
    /// of them wait, the consumer is woken here.
    public func publishNow(_ message: DispatchMessage) throws(QueueError) -> Bool {
        let (wakeLater, handOver) = try accept { state throws(QueueError) in
            try state.append(message, capacity: capacity)
            guard state.buffer.count < eagerWakeDepth else {
                state.wakeUpDue = false
                return (false, state.takeHandOver())
            }
            return (state.deferWakeUp(), nil)
        }
        if let handOver { handOver.waiter.resume(returning: handOver.message) }
        return wakeLater
    }

    /// Hands the oldest message to a consumer left waiting by `publishNow`.
    public func wakeConsumer() {
        let handOver = state.withLock { state in
            state.wakeUpDue = false
            return state.takeHandOver()
        }
        if let handOver { handOver.waiter.resume(returning: handOver.message) }
    }

    /// Runs `enqueue` under the lock and counts its outcome.
    private func accept<T>(
        _ enqueue: (inout State) throws(QueueError) -> T
    ) throws(QueueError) -> T {
        do {
            let result = try state.withLock { state throws(QueueError) in try enqueue(&state) }
            published.increment()
            return result
        } catch {
            if error == .full { rejectedFull.increment() }
            throw error
        }
    }

    /// Refuses further messages and lets the consumer return once it has drained the queue.
    public func close() {
        let (waiter, message) = state.withLock { state in
            state.isClosed = true
            // A consumer left waiting by `publishNow` gets the queued messages first.
            let handOver = state.takeHandOver()
            return (handOver?.waiter ?? state.waiter.take(), handOver?.message)
        }
        waiter?.resume(returning: message)
    }

    /// Calls `handler` for each message in order, one at a time. Returns when the queue is
    /// closed and drained, or when the calling task is cancelled (messages still queued stay
    /// for a later `run`).
    ///
    /// - Throws: `QueueError.unavailable` if another `run` is already consuming.
    public func run(_ handler: @escaping @Sendable (DispatchMessage) async -> Void) async throws {
        try claimConsumer()
        defer { state.withLock { $0.hasConsumer = false } }

        while let message = await next() {
            await handler(message)
        }
    }

    private func claimConsumer() throws(QueueError) {
        try state.withLock { state throws(QueueError) in
            guard !state.hasConsumer else {
                throw QueueError.unavailable("queue already has a consumer")
            }
            state.hasConsumer = true
        }
    }

    /// The next message, or nil when the queue is closed and empty or the task is cancelled.
    private func next() async -> DispatchMessage? {
        switch state.withLock({ $0.take() }) {
        case .message(let message): return message
        case .finished: return nil
        case .empty: return await waitForMessage()
        }
    }

    private func waitForMessage() async -> DispatchMessage? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: Waiter) in
                let ready = state.withLock { $0.takeOrPark(waiter) }
                if let ready { waiter.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiter.take() }
            waiter?.resume(returning: nil)
        }
    }
}

/// A suspended consumer: resumed with a message, or with nil to make it stop.
private typealias Waiter = CheckedContinuation<DispatchMessage?, Never>

private enum Take {
    case message(DispatchMessage)
    case finished
    case empty
}

/// A waiting consumer and the message to resume it with.
private typealias HandOver = (waiter: Waiter, message: DispatchMessage)

private struct State {
    var buffer = FIFO<DispatchMessage>()
    /// The consumer, while it waits. The buffer is empty then, except for messages left by
    /// `publishNow` until their `wakeConsumer()`.
    var waiter: Waiter?
    /// `publishNow` asked its caller for a `wakeConsumer()` that has not come yet.
    var wakeUpDue = false
    var hasConsumer = false
    var isClosed = false

    mutating func append(_ message: DispatchMessage, capacity: Int) throws(QueueError) {
        guard !isClosed else { throw QueueError.unavailable("queue closed") }
        guard buffer.count < capacity else { throw QueueError.full }

        buffer.append(message)
    }

    /// The waiting consumer with the oldest message, if a consumer waits.
    mutating func takeHandOver() -> HandOver? {
        guard waiter != nil, let message = buffer.popFirst(), let waiter = waiter.take() else {
            return nil
        }
        return (waiter, message)
    }

    /// Whether the caller of `publishNow` is the one to wake the waiting consumer.
    mutating func deferWakeUp() -> Bool {
        guard waiter != nil, !wakeUpDue else { return false }
        wakeUpDue = true
        return true
    }

    mutating func take() -> Take {
        if Task.isCancelled { return .finished }
        if let message = buffer.popFirst() { return .message(message) }
        return isClosed ? .finished : .empty
    }

    /// Parks `waiter` unless there is already an answer for it. Checking cancellation under
    /// the lock closes the race with the cancellation handler, which runs after the flag is set.
    mutating func takeOrPark(_ waiter: Waiter) -> DispatchMessage?? {
        switch take() {
        case .message(let message): return .some(message)
        case .finished: return .some(nil)
        case .empty:
            self.waiter = waiter
            return nil
        }
    }
}
