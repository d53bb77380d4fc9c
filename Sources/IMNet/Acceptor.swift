import CLinux
import Glibc
import IMCore

/// One listening socket on one loop: accepts connections and hands them to `onAccept`.
///
/// Before each `accept4` it reserves a descriptor from its `FileLimit`. When none is left (or
/// the kernel says `EMFILE`/`ENFILE`/`ENOBUFS`/`ENOMEM`) it stops polling the socket and checks
/// again every 100 ms on its timer: a level-triggered listener with a queued connection it
/// cannot accept would otherwise wake the loop continuously.
final class Acceptor: TimerWheelEntry, FileHandler {
    let fd: Int32
    private let loop: EventLoop
    private let fileLimit: FileLimit
    private let statistics: ListenerStatistics
    private let onAccept: TCPServer.AcceptHandler
    private var state = State.idle

    /// Accepts per readable event, so one busy listener does not starve the loop's connections.
    static let maxAcceptsPerWakeup = 64
    /// How often a paused listener looks for room again.
    static let pauseRecheckMillis = 100
    private static let logger = Logger(label: "imnet.tcp")

    private enum State {
        case idle, accepting, paused, closed
    }

    private enum AcceptOutcome {
        case accepted, drained, skipped, exhausted
    }

    init(
        fd: Int32, loop: EventLoop, fileLimit: FileLimit, statistics: ListenerStatistics,
        onAccept: @escaping TCPServer.AcceptHandler
    ) {
        self.fd = fd
        self.loop = loop
        self.fileLimit = fileLimit
        self.statistics = statistics
        self.onAccept = onAccept
    }

    /// Registers the socket on its loop (loop thread).
    func start() {
        guard state == .idle else { return }
        do {
            try loop.register(self, events: .readable)
            state = .accepting
        } catch {
            Self.logger.error("cannot watch listening socket", ["error": "\(error)"])
            state = .closed
            System.close(fd)
        }
    }

    /// Stops accepting and closes the socket (loop thread).
    func close() {
        guard state != .closed else { return }
        let wasRegistered = state != .idle
        state = .closed
        loop.timers.cancel(self)
        if wasRegistered { loop.deregister(self) }
        System.close(fd)
    }

    func handleEvents(_ events: IOEvents) {
        statistics.wakeupCount.wrappingAdd(1, ordering: .relaxed)
        guard state == .accepting else { return }

        for _ in 0..<Self.maxAcceptsPerWakeup {
            guard fileLimit.tryReserve() else {
                pause(reason: "reserved descriptors at capacity")
                return
            }
            let outcome = acceptOne()
            if outcome != .accepted { fileLimit.release() }

            switch outcome {
            case .accepted, .skipped: continue
            case .drained: return
            case .exhausted:
                pause(reason: "accept4 ran out of descriptors or memory")
                return
            }
        }
    }

    func loopDidShutdown() {
        state = .closed
        System.close(fd)
    }

    /// Paused: resume polling when a descriptor can be reserved again, else look again later.
    override func timerExpired() {
        guard state == .paused else { return }

        if fileLimit.hasRoom {
            state = .accepting
            loop.modify(self, events: .readable)
        } else {
            loop.timers.schedule(self, afterMillis: Self.pauseRecheckMillis)
        }
    }

    private func pause(reason: String) {
        state = .paused
        loop.modify(self, events: .none)
        loop.timers.schedule(self, afterMillis: Self.pauseRecheckMillis)
        statistics.pauseCount.wrappingAdd(1, ordering: .relaxed)
        fileLimit.noteAcceptPaused(reason: reason)
    }

    /// One `accept4`; on success the socket (with its reservation) goes to `onAccept`.
    private func acceptOne() -> AcceptOutcome {
        var peer = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let flags = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        statistics.acceptCallCount.wrappingAdd(1, ordering: .relaxed)

        let socket = withUnsafeMutablePointer(to: &peer) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                accept4(fd, $0, &length, flags)
            }
        }
        guard socket >= 0 else { return Self.outcome(ofFailure: Glibc.errno) }

        // Set on each socket rather than relying on what it inherits from the listener.
        var one: Int32 = 1
        _ = setsockopt(
            socket, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))

        statistics.acceptedCount.wrappingAdd(1, ordering: .relaxed)
        onAccept(loop, socket, SocketAddress(peer))
        return .accepted
    }

    private static func outcome(ofFailure code: Int32) -> AcceptOutcome {
        switch code {
        case EAGAIN, EWOULDBLOCK:
            return .drained
        case EINTR, ECONNABORTED, EPROTO, EPERM, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET,
            EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH, ETIMEDOUT:
            // This connection failed (or the call was interrupted); the next may be fine.
            logger.debug("accept failed for one connection", ["errno": "\(code)"])
            return .skipped
        case EMFILE, ENFILE, ENOBUFS, ENOMEM:
            return .exhausted
        default:
            // Unexpected (EBADF, EINVAL...): pausing is safer than spinning on it.
            IMNetMetrics.acceptErrors.increment()
            logger.error(
                "accept4 failed",
                ["errno": "\(code)", "error": "\(SystemError(call: "accept4", errno: code))"])
            return .exhausted
        }
    }
}
