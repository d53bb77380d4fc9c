import CLinux
import Glibc

/// A failed system call: which call and the `errno` it left.
///
/// The wrappers in `System` throw it typed (`throws(SystemError)`), so a failure on a hot path
/// costs no existential box.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The call that failed, such as `"accept4"` or `"bind 0.0.0.0:8080"`.
    public let call: String
    public let errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// The error for `call` from the current thread's `errno`.
    public static func last(_ call: String) -> SystemError {
        SystemError(call: call, errno: Glibc.errno)
    }

    public var description: String {
        "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Thin wrappers over the system calls the event loops use: -1 becomes a thrown
/// `SystemError`, `EINTR` is retried, and "would block" is a `nil` result rather than an error.
public enum System {
    /// Online CPUs, at least 1: the default number of event loops.
    public static let coreCount: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Monotonic clock in nanoseconds (unaffected by wall-clock changes).
    public static func monotonicNanos() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }

    /// Monotonic clock in milliseconds.
    public static func monotonicMillis() -> UInt64 {
        monotonicNanos() / 1_000_000
    }

    /// Makes writes to a closed peer fail with `EPIPE` instead of killing the process.
    /// Idempotent; `EventLoopGroup.init` calls it.
    public static func ignoreBrokenPipeSignal() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Closes `fd`. Never retried: on Linux the descriptor is released even when `close`
    /// reports `EINTR`, and retrying could close a descriptor another thread just opened.
    /// Errors are not actionable for the callers (the descriptor is gone either way).
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Reads into `buffer`: the byte count (0 at end of stream), or nil when it would block.
    public static func read(
        _ fd: Int32, into buffer: UnsafeMutableRawBufferPointer
    ) throws(SystemError) -> Int? {
        try callAllowingWouldBlock("read") {
            Glibc.read(fd, buffer.baseAddress, buffer.count)
        }
    }

    /// Writes from `buffer`: the byte count written, or nil when it would block.
    public static func write(
        _ fd: Int32, from buffer: UnsafeRawBufferPointer
    ) throws(SystemError) -> Int? {
        try callAllowingWouldBlock("write") {
            Glibc.write(fd, buffer.baseAddress, buffer.count)
        }
    }

    /// Sets or clears `O_NONBLOCK` on `fd`.
    public static func setNonBlocking(_ fd: Int32, _ nonBlocking: Bool = true) throws(SystemError) {
        let flags = try call("fcntl(F_GETFL)") { Int(fcntl(fd, F_GETFL)) }
        let wanted = nonBlocking ? flags | Int(O_NONBLOCK) : flags & ~Int(O_NONBLOCK)
        guard wanted != flags else { return }
        _ = try call("fcntl(F_SETFL)") { Int(fcntl(fd, F_SETFL, Int32(wanted))) }
    }

    /// Sets an `Int32` socket option; `label` names it in the error (`"TCP_NODELAY"`).
    public static func setSocketOption(
        _ fd: Int32, level: Int32, name: Int32, value: Int32, label: String
    ) throws(SystemError) {
        var value = value
        let size = socklen_t(MemoryLayout<Int32>.size)
        _ = try call("setsockopt(\(label))") { Int(setsockopt(fd, level, name, &value, size)) }
    }

    /// Runs `body` until it does not fail with `EINTR`: its result, or nil for `EAGAIN`;
    /// any other failure throws.
    @inline(__always)
    static func callAllowingWouldBlock(
        _ call: @autoclosure () -> String, _ body: () -> Int
    ) throws(SystemError) -> Int? {
        while true {
            let result = body()
            if result >= 0 { return result }

            let code = Glibc.errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return nil }
            throw SystemError(call: call(), errno: code)
        }
    }

    /// Runs `body` until it does not fail with `EINTR`; any other failure throws.
    @inline(__always)
    static func call(
        _ call: @autoclosure () -> String, _ body: () -> Int
    ) throws(SystemError) -> Int {
        while true {
            let result = body()
            if result >= 0 { return result }

            let code = Glibc.errno
            if code != EINTR { throw SystemError(call: call(), errno: code) }
        }
    }
}

// MARK: - Event-loop calls

extension System {
    static func epollCreate() throws(SystemError) -> Int32 {
        Int32(try call("epoll_create1") { Int(epoll_create1(Int32(EPOLL_CLOEXEC))) })
    }

    static func eventFD() throws(SystemError) -> Int32 {
        let flags = Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC)
        return Int32(try call("eventfd") { Int(eventfd(0, flags)) })
    }

    static func epollControl(
        _ epollFD: Int32, _ operation: Int32, _ fd: Int32, events: UInt32, data: UInt64
    ) throws(SystemError) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = data
        _ = try call("epoll_ctl") { Int(epoll_ctl(epollFD, operation, fd, &event)) }
    }

    /// Waits for events; an interrupted wait reports 0 events (the loop just goes round).
    static func epollWait(
        _ epollFD: Int32, _ events: UnsafeMutablePointer<epoll_event>, capacity: Int32,
        timeoutMillis: Int32
    ) throws(SystemError) -> Int {
        let count = epoll_wait(epollFD, events, capacity, timeoutMillis)
        if count >= 0 { return Int(count) }
        if Glibc.errno == EINTR { return 0 }
        throw SystemError.last("epoll_wait")
    }
}
