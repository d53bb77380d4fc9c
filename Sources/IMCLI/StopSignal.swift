import Foundation
import Synchronization

/// Tells a long-running command to stop. `fd` becomes readable once `trigger()` has been
/// called (or, for `processSignals()`, once SIGINT or SIGTERM arrived), so a command can wait
/// for it in the same `poll` as its sockets.
public final class StopSignal: Sendable {
    /// Read end of the pipe: poll it for `POLLIN`.
    public let fd: Int32
    /// Write end of the pipe: one byte makes `fd` readable (the REPL's SIGINT handler writes
    /// here directly).
    let writeEnd: Int32

    /// A signal that fires only when `trigger()` is called.
    public init() {
        var ends: [Int32] = [-1, -1]
        let status = ends.withUnsafeMutableBufferPointer { pipe($0.baseAddress) }
        precondition(status == 0, "pipe() failed: \(String(cString: strerror(errno)))")
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        fd = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        close(fd)
        close(writeEnd)
    }

    /// Makes `fd` readable; safe from any thread and from a signal handler's point of view
    /// (one non-blocking `write`).
    public func trigger() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Makes `fd` unreadable again, forgetting earlier triggers: the REPL reuses one signal for
    /// every command it runs.
    public func reset() {
        var bytes = [UInt8](repeating: 0, count: 64)
        while read(fd, &bytes, bytes.count) > 0 {}
    }

    /// Whether `trigger()` has been called (does not wait).
    public var isTriggered: Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) > 0
    }

    /// The process-wide signal fired by SIGINT and SIGTERM; the handlers are installed on
    /// first use and stay for the life of the process.
    public static func processSignals() -> StopSignal {
        installedSignal.withLock { installed in
            if let installed { return installed }

            let signal = StopSignal()
            signalWriteEnd.store(signal.writeEnd, ordering: .sequentiallyConsistent)
            var action = sigaction()
            action.__sigaction_handler.sa_handler = handleStopSignal
            sigemptyset(&action.sa_mask)
            sigaction(SIGINT, &action, nil)
            sigaction(SIGTERM, &action, nil)
            installed = signal
            return signal
        }
    }

    private static let installedSignal = Mutex<StopSignal?>(nil)
}

/// The pipe the signal handler writes to; a C handler cannot capture, and an atomic load is
/// async-signal-safe.
private let signalWriteEnd = Atomic<Int32>(-1)

private func handleStopSignal(_ signal: Int32) {
    let fd = signalWriteEnd.load(ordering: .relaxed)
    guard fd >= 0 else { return }

    let savedErrno = errno  // the interrupted code may be about to read errno
    var byte: UInt8 = 1
    _ = write(fd, &byte, 1)
    errno = savedErrno
}
