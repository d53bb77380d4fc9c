import Foundation
import Synchronization

/// SIGINT while the REPL runs. The handler is installed once, without `SA_RESTART`, so a
/// blocked `read` (libedit's, or a pipe's) returns with EINTR; it counts the interrupt and
/// triggers `stop`, which a running `client connect` polls.
final class ReplInterrupts: Sendable {
    /// The signal handed to every command the REPL runs (reset before each).
    let stop: StopSignal

    private init(stop: StopSignal) {
        self.stop = stop
    }

    /// The process's instance, installing the handler on first use.
    static func install() -> ReplInterrupts {
        installed.withLock { installed in
            if let installed { return installed }

            let interrupts = ReplInterrupts(stop: StopSignal())
            replStopWriteEnd.store(interrupts.stop.writeEnd, ordering: .sequentiallyConsistent)
            var action = sigaction()
            action.__sigaction_handler.sa_handler = handleReplInterrupt
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0  // no SA_RESTART: the interrupted read must return
            sigaction(SIGINT, &action, nil)
            installed = interrupts
            return interrupts
        }
    }

    private static let installed = Mutex<ReplInterrupts?>(nil)

    /// Whether SIGINT arrived since the last call (and forgets it).
    func takeInterrupt() -> Bool {
        replInterruptCount.exchange(0, ordering: .sequentiallyConsistent) > 0
    }

    /// Runs `body` (a command) with a SIGINT also ending the terminal's line on `echoFD`, so
    /// that what follows the echoed ^C starts on a line of its own.
    func whileRunning<T>(echoingNewlineTo echoFD: Int32?, _ body: () -> T) -> T {
        replEchoFD.store(echoFD ?? -1, ordering: .sequentiallyConsistent)
        defer { replEchoFD.store(-1, ordering: .sequentiallyConsistent) }
        return body()
    }
}

/// A C signal handler cannot capture, and atomics are async-signal-safe.
private let replInterruptCount = Atomic<Int>(0)
private let replStopWriteEnd = Atomic<Int32>(-1)
private let replEchoFD = Atomic<Int32>(-1)

private func handleReplInterrupt(_ signal: Int32) {
    let savedErrno = errno  // the interrupted code may be about to read errno
    replInterruptCount.add(1, ordering: .sequentiallyConsistent)
    var byte: UInt8 = 1
    let stopFD = replStopWriteEnd.load(ordering: .sequentiallyConsistent)
    if stopFD >= 0 { _ = write(stopFD, &byte, 1) }

    byte = UInt8(ascii: "\n")
    let echoFD = replEchoFD.load(ordering: .sequentiallyConsistent)
    if echoFD >= 0 { _ = write(echoFD, &byte, 1) }
    errno = savedErrno
}
