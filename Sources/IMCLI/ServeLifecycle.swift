import Foundation
import IMCore
import Synchronization

/// What a `serve` command started: its listeners and tasks, stopped as one.
protocol ServingProcess: Sendable {
    /// Stops accepting, closes connections and tasks, and releases the loops. Every wait
    /// inside is bounded, so a stuck peer cannot keep the process from exiting.
    func stop()
}

/// The foreground life of every `serve` command: logging and signals set up, the roles started,
/// SIGINT or SIGTERM awaited, the roles stopped, exit 0 (1 when the start failed).
enum ServeLifecycle {
    static let logger = Logger(label: "imctl")

    /// The longest `stop` waits for tasks (job draining, comet telling logic).
    static let stopTimeout: Duration = .seconds(10)

    /// - Parameters:
    ///   - role: named in the "serving" line (`all`, `comet`, ...).
    ///   - start: opens the listeners; what it throws is reported as one error line.
    static func run(
        role: String, logLevel: Logger.Level, fields: [String: String] = [:],
        start: () throws -> any ServingProcess
    ) -> Int32 {
        Logger.configure(level: logLevel)
        signal(SIGPIPE, SIG_IGN)
        unblockStopSignals()
        let stop = StopSignal.processSignals()

        let server: any ServingProcess
        do {
            server = try start()
        } catch {
            logger.error("cannot start: \(error)")
            return 1
        }
        let serving = fields.merging(["pid": "\(getpid())", "role": role]) { $1 }
        logger.info("serving", serving)

        waitUntilTriggered(stop)
        logger.info("stopping")
        server.stop()
        logger.info("stopped")
        return 0
    }

    /// Runs `operation` on a task and blocks this (non-async) thread until it finishes or
    /// `timeout` passes. Returns its result, or nil on timeout (the task is then cancelled).
    static func blocking<Value: Sendable>(
        timeout: Duration, _ operation: @escaping @Sendable () async throws -> Value
    ) throws -> Value? {
        let outcome = Mutex<Result<Value, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let task = Task {
            do {
                let value = try await operation()
                outcome.withLock { $0 = .success(value) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        guard done.wait(timeout: .now() + timeout.timeInterval) == .success else {
            task.cancel()
            return nil
        }
        return try outcome.withLock { $0 }?.get()
    }

    /// Like `blocking`, for clean-up work whose outcome does not matter past the deadline.
    static func blockingStop(
        timeout: Duration = stopTimeout, _ work: @escaping @Sendable () async -> Void
    ) {
        _ = try? blocking(timeout: timeout) { await work() }
    }

    /// A parent may start us with SIGINT and SIGTERM blocked (threads of libdispatch block
    /// signals, and a child inherits the mask of the thread that spawned it); unblock them so
    /// the handler runs. Threads started later inherit this mask.
    private static func unblockStopSignals() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
    }

    private static func waitUntilTriggered(_ stop: StopSignal) {
        var descriptor = pollfd(fd: stop.fd, events: Int16(POLLIN), revents: 0)
        while poll(&descriptor, 1, -1) <= 0 {}
    }
}

extension Duration {
    /// Seconds as a `TimeInterval`, for Dispatch deadlines.
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
