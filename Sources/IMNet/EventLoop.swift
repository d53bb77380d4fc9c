import CLinux
import Glibc
import IMCore
import Synchronization

/// One thread with its own epoll instance. Every descriptor registered on a loop, and all the
/// state of its handler, is touched only on the loop's thread; other threads talk to the loop
/// through `execute`, whose inbox is the only lock on the way.
///
/// Each iteration: wait for events (until the next timer tick, or forever when no timer is
/// scheduled), dispatch them, run the tasks from the inbox, fire due timers, run the tasks
/// deferred to the end of the iteration, then run the flushes scheduled during the iteration.
///
/// Why level-triggered epoll: a handler may stop before draining a socket (to stay fair with a
/// 64 KiB shared read buffer, or under back-pressure) and the loop reports it again on the next
/// iteration without bookkeeping. Edge-triggered would force every handler to read until
/// `EAGAIN` or remember to come back itself, and one mistake there loses a connection silently.
/// The cost is that write interest must be switched on only while bytes are pending, which
/// `modify` does without a system call when nothing changes.
///
/// `@unchecked Sendable`: the mutable state (handler table, flush list, timers, buffers) is
/// confined to the loop's thread; what other threads touch is the inbox (a `Mutex`), atomics,
/// the lifecycle state (a `Mutex`), and constants.
public final class EventLoop: @unchecked Sendable {
    /// Position in the group, also in the thread name `imctl-loop-<index>`.
    public let index: Int

    /// The loop's timers (100 ms ticks). Loop thread only.
    public let timers: TimerWheel

    /// Monotonic milliseconds, refreshed every iteration. Loop thread only.
    public private(set) var nowMillis: UInt64

    /// 64 KiB shared by every connection of the loop for reads: read, parse, keep only the
    /// leftover of a partial frame. Loop thread only; never hold on to it across events.
    public let readBuffer: UnsafeMutableRawBufferPointer

    /// Size of `readBuffer`.
    public static let readBufferSize = 64 * 1024

    let epollFD: Int32
    /// Counter-mode eventfd written by `execute` to wake the loop. Closed in `deinit`, not at
    /// shutdown, so a late `execute` can never write into a reused descriptor number.
    private let wakeFD: Int32

    private let inbox = Mutex(Inbox())
    /// Set by the first `execute` after the loop last looked; later ones skip the eventfd write.
    private let wakeupPending = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    private let threadID = Atomic<UInt>(0)
    private let lifecycle = Mutex(Lifecycle.idle)

    // Loop-thread state.
    private var handlers = HandlerTable()
    private var runningTasks: [QueuedTask] = []
    private var iterationEndTasks: [() -> Void] = []
    private var runningIterationEndTasks: [() -> Void] = []
    private var inboxSignalled = false
    private var isClosed = false
    private let events: UnsafeMutablePointer<epoll_event>

    static let eventCapacity = 256
    private static let wakeToken = UInt64.max
    private static let logger = Logger(label: "imnet.loop")

    private typealias QueuedTask = @Sendable () -> Void

    private struct Inbox {
        var tasks: [QueuedTask] = []
        var isClosed = false
    }

    private enum Lifecycle {
        case idle
        case running(pthread_t)
        case finished
    }

    init(index: Int) throws(SystemError) {
        self.index = index
        epollFD = try System.epollCreate()
        do {
            wakeFD = try System.eventFD()
            try System.epollControl(
                epollFD, EPOLL_CTL_ADD, wakeFD, events: clinux_epollin(), data: Self.wakeToken)
        } catch {
            System.close(epollFD)
            throw error
        }

        nowMillis = System.monotonicMillis()
        timers = TimerWheel(startMillis: nowMillis)
        readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
        events = .allocate(capacity: Self.eventCapacity)
    }

    deinit {
        if !isClosed { System.close(epollFD) }
        System.close(wakeFD)
        readBuffer.deallocate()
        events.deallocate()
    }

    /// Whether the calling thread is this loop's thread.
    public var isCurrent: Bool {
        threadID.load(ordering: .acquiring) == UInt(pthread_self())
    }

    /// Runs `task` on the loop thread, after the events of the current iteration. Callable from
    /// any thread, including the loop's own (the task then runs in a later pass, never inline).
    /// Tasks given after shutdown are dropped and counted.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        let accepted = inbox.withLock { inbox in
            guard !inbox.isClosed else { return false }
            inbox.tasks.append(task)
            return true
        }
        guard accepted else {
            IMNetMetrics.tasksDroppedAfterShutdown.increment()
            Self.logger.debug("task dropped: loop is shut down", ["loop.index": "\(index)"])
            return
        }

        if !wakeupPending.exchange(true, ordering: .sequentiallyConsistent) {
            wake()
        }
    }

    /// Runs `body` on the loop and returns its result. After shutdown there is no loop thread
    /// any more, so `body` runs on the caller instead (the await always completes).
    public func submit<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            let accepted = inbox.withLock { inbox in
                guard !inbox.isClosed else { return false }
                inbox.tasks.append { continuation.resume(returning: body()) }
                return true
            }
            if !accepted {
                continuation.resume(returning: body())
            } else if !wakeupPending.exchange(true, ordering: .sequentiallyConsistent) {
                wake()
            }
        }
    }

    private func wake() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { try? System.write(wakeFD, from: $0) }
    }
}

// MARK: - Registration (loop thread)

extension EventLoop {
    /// Starts watching `handler.fd` for `events` (plus hangup and error). The loop keeps the
    /// handler until `deregister`. Throws if the descriptor is invalid or already registered.
    public func register(_ handler: any FileHandler, events: IOEvents) throws {
        assertOnLoop()
        let fd = handler.fd
        guard fd >= 0, !isClosed else { throw SystemError(call: "epoll_ctl(ADD)", errno: EBADF) }

        if let previous = handlers.handler(at: fd) {
            guard previous !== handler else {
                throw SystemError(call: "epoll_ctl(ADD)", errno: EEXIST)
            }
            // Its owner closed the descriptor without deregistering; the number was reused.
            Self.logger.warning(
                "replacing stale handler", ["fd": "\(fd)", "loop.index": "\(index)"])
        }

        let generation = handlers.nextGeneration(at: fd)
        try System.epollControl(
            epollFD, EPOLL_CTL_ADD, fd, events: events.epollMask, data: Self.token(fd, generation))
        handlers.install(handler, at: fd, events: events, generation: generation)
    }

    /// Changes the events watched for a registered handler; no system call when they are
    /// unchanged. Unregistered handlers are ignored.
    public func modify(_ handler: any FileHandler, events: IOEvents) {
        assertOnLoop()
        let fd = handler.fd
        guard let slot = handlers.slot(at: fd, for: handler), slot.events != events else { return }

        do {
            try System.epollControl(
                epollFD, EPOLL_CTL_MOD, fd, events: events.epollMask,
                data: Self.token(fd, slot.generation))
            handlers.setEvents(events, at: fd)
        } catch {
            Self.logger.warning("epoll modify failed", ["fd": "\(fd)", "error": "\(error)"])
        }
    }

    /// Stops watching the handler's descriptor and drops the loop's reference to it. Does not
    /// close the descriptor: close it after this call. Unregistered handlers are ignored.
    public func deregister(_ handler: any FileHandler) {
        assertOnLoop()
        let fd = handler.fd
        guard handlers.slot(at: fd, for: handler) != nil else { return }

        handlers.remove(at: fd)
        if !isClosed {
            // Fails harmlessly (EBADF) when the descriptor was already closed.
            try? System.epollControl(epollFD, EPOLL_CTL_DEL, fd, events: 0, data: 0)
        }
    }

    /// Calls `handler.flush()` once after the current batch of events, tasks and timers, however
    /// often it is scheduled in the batch. Skipped if the handler is deregistered by then; a
    /// handler that is not registered cannot schedule flushes.
    public func scheduleFlush(_ handler: any FileHandler) {
        assertOnLoop()
        handlers.scheduleFlush(for: handler)
    }

    /// Runs `task` on the loop thread once the events, inbox tasks and timers of the current
    /// iteration are handled, before its flushes: in the same iteration and without a wake-up.
    /// Lets work caused by many events be done once per iteration (one wake-up of another
    /// thread for a batch of requests). Loop thread only.
    public func runAtIterationEnd(_ task: @escaping () -> Void) {
        assertOnLoop()
        iterationEndTasks.append(task)
    }

    /// Registered handlers (for tests and diagnostics).
    public var registeredCount: Int { handlers.count }

    private static func token(_ fd: Int32, _ generation: UInt32) -> UInt64 {
        UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
    }

    /// Debug check: loop-thread-only calls come from the loop thread, or from anywhere before
    /// it starts or after it closed (setup, shutdown, `submit` on a dead loop).
    private func assertOnLoop() {
        assert(
            isCurrent || threadID.load(ordering: .acquiring) == 0 || inbox.withLock { $0.isClosed },
            "EventLoop \(index) used off its thread")
    }
}

// MARK: - Running

extension EventLoop {
    func start() {
        let started = lifecycle.withLock { state -> Bool in
            guard case .idle = state else { return false }

            var thread = pthread_t()
            let context = Unmanaged.passRetained(self).toOpaque()
            let result = pthread_create(&thread, nil, eventLoopThreadMain, context)
            guard result == 0 else {
                Unmanaged<EventLoop>.fromOpaque(context).release()
                Self.logger.error("cannot start loop thread", ["errno": "\(result)"])
                return false
            }
            state = .running(thread)
            return true
        }
        if started { Self.logger.debug("loop started", ["loop.index": "\(index)"]) }
    }

    /// Stops the loop and waits for its thread; registered handlers get `loopDidShutdown()`.
    /// Called on the loop's own thread, it only asks the loop to stop after this iteration.
    func shutdown() {
        let action = lifecycle.withLock { state -> Lifecycle in
            let previous = state
            state = .finished
            return previous
        }

        switch action {
        case .idle:
            closeDown()
        case .running(let thread):
            stopRequested.store(true, ordering: .sequentiallyConsistent)
            wake()
            if isCurrent {
                pthread_detach(thread)
            } else {
                pthread_join(thread, nil)
            }
        case .finished:
            break
        }
    }

    /// The loop thread's body.
    fileprivate func run() {
        threadID.store(UInt(pthread_self()), ordering: .releasing)
        _ = pthread_setname_np(pthread_self(), "imctl-loop-\(index)")

        while !stopRequested.load(ordering: .relaxed) {
            guard runIteration() else { break }
        }
        closeDown()
    }

    /// One pass; false when the loop cannot go on (epoll itself failed).
    private func runIteration() -> Bool {
        nowMillis = System.monotonicMillis()
        let ready: Int
        do {
            ready = try System.epollWait(
                epollFD, events, capacity: Int32(Self.eventCapacity), timeoutMillis: waitTimeout())
        } catch {
            Self.logger.error("epoll_wait failed, loop stopping", ["error": "\(error)"])
            return false
        }

        nowMillis = System.monotonicMillis()
        timers.updateClock(nowMillis)
        for index in 0..<ready { dispatch(events[index]) }
        if inboxSignalled { runInbox() }
        timers.advance(toMillis: nowMillis)
        runIterationEndTasks()
        runScheduledFlushes()
        return true
    }

    /// 0 when flushes are pending, the time to the next tick when timers are scheduled, else -1.
    private func waitTimeout() -> Int32 {
        if handlers.hasScheduledFlushes { return 0 }
        guard let next = timers.nextDeadlineMillis else { return -1 }
        return next <= nowMillis ? 0 : Int32(clamping: next - nowMillis)
    }

    private func dispatch(_ event: epoll_event) {
        let token = event.data.u64
        if token == Self.wakeToken {
            consumeWakeup()
            return
        }

        let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: token))
        let generation = UInt32(truncatingIfNeeded: token >> 32)
        // The generation check drops events queued for a descriptor that was deregistered (and
        // maybe reused by a new handler) earlier in the same batch.
        guard let handler = handlers.handler(at: fd, generation: generation) else { return }
        handler.handleEvents(IOEvents(epollMask: event.events))
    }

    private func consumeWakeup() {
        var counter: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &counter) { try? System.read(wakeFD, into: $0) }
        // Cleared before the inbox is read: a task queued after this point writes the eventfd
        // again, so it is never left waiting.
        wakeupPending.store(false, ordering: .sequentiallyConsistent)
        inboxSignalled = true
    }

    /// Runs the tasks queued so far. The inbox array is swapped with an empty one that keeps its
    /// capacity, so queueing costs no array allocation in steady state.
    private func runInbox() {
        inboxSignalled = false
        inbox.withLock { swap(&$0.tasks, &runningTasks) }
        for index in runningTasks.indices {
            runningTasks[index]()
        }
        runningTasks.removeAll(keepingCapacity: true)
    }

    /// Runs the deferred tasks, including any they defer in turn. The arrays are swapped, so
    /// deferring costs no array allocation in steady state.
    private func runIterationEndTasks() {
        while !iterationEndTasks.isEmpty {
            swap(&iterationEndTasks, &runningIterationEndTasks)
            for task in runningIterationEndTasks { task() }
            runningIterationEndTasks.removeAll(keepingCapacity: true)
        }
    }

    private func runScheduledFlushes() {
        guard handlers.hasScheduledFlushes else { return }

        let batchSize = handlers.beginFlushBatch()
        for index in 0..<batchSize {
            if let handler = handlers.takeFlush(at: index) { handler.flush() }
        }
        handlers.endFlushBatch()
    }

    /// After the last iteration: run what is still queued, close the inbox, hand every
    /// registered handler `loopDidShutdown()`, drop timers and close epoll.
    private func closeDown() {
        runRemainingTasks()
        runIterationEndTasks()

        for handler in handlers.removeAll() {
            handler.loopDidShutdown()
        }
        timers.removeAll()
        isClosed = true
        System.close(epollFD)
        Self.logger.debug("loop stopped", ["loop.index": "\(index)"])
    }

    /// Tasks queued before shutdown still run (a `submit` caller is waiting on them); a task that
    /// keeps queueing more is cut off after a few rounds.
    private func runRemainingTasks() {
        for _ in 0..<16 {
            let hasTasks = inbox.withLock { inbox in
                if inbox.tasks.isEmpty { inbox.isClosed = true }
                return !inbox.tasks.isEmpty
            }
            guard hasTasks else { return }
            runInbox()
        }

        let dropped = inbox.withLock { inbox in
            inbox.isClosed = true
            defer { inbox.tasks.removeAll() }
            return inbox.tasks.count
        }
        IMNetMetrics.tasksDroppedAfterShutdown.increment(by: dropped)
        Self.logger.warning("tasks dropped at shutdown", ["count": "\(dropped)"])
    }
}

/// Entry point of a loop thread: takes over the reference retained by `start()`.
private func eventLoopThreadMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let loop = Unmanaged<EventLoop>.fromOpaque(context!).takeRetainedValue()
    loop.run()
    return nil
}
