import CLinux
import Foundation
import IMNet
import Synchronization

/// Past one process's open-file limit the clients are spread over worker processes: the
/// same binary, re-executed as `client simulate` with `IMCTL_SIMULATE_WORKER` set. A worker
/// runs its share of the clients and writes a `WorkerReport` JSON line to its stdout every
/// `reportInterval`; it stops when its stdin reaches end of file (the parent closed it, or
/// died) or on SIGINT/SIGTERM, after one last report.
enum SimulateWorkers {
    /// Set in a worker's environment: its index (0, 1, ...).
    static let workerVariable = "IMCTL_SIMULATE_WORKER"
    /// Set in a worker's environment: the source address to bind (loopback targets only).
    static let sourceVariable = "IMCTL_SIMULATE_SOURCE"
    /// Set in a worker's environment: its share of the connects in flight.
    static let inFlightVariable = "IMCTL_SIMULATE_MAX_IN_FLIGHT"
    /// Hidden override of the clients one process runs (tests force a split with it).
    static let perWorkerVariable = "IMCTL_SIMULATE_CLIENTS_PER_WORKER"

    /// Clients per process when nothing overrides it.
    static let defaultClientsPerProcess = 15_000
    static let reportIntervalMillis: Int32 = 250

    /// How many clients one process may run: `IMCTL_SIMULATE_CLIENTS_PER_WORKER`, else the
    /// open-file limit less headroom (for the loops, pipes, logs), at most 15,000.
    static func clientsPerProcess(environment: [String: String]) -> (limit: Int, forced: Bool) {
        if let text = environment[perWorkerVariable], let forced = Int(text), forced > 0 {
            return (forced, true)
        }
        let soft = clinux_nofile_soft_limit()
        let fileLimit = soft == -2 ? Int(Int32.max) : soft < 0 ? 1024 : Int(soft)
        let headroom = max(64, fileLimit / 20)
        return (max(1, min(defaultClientsPerProcess, fileLimit - headroom)), false)
    }

    /// `clients` split into `parts` nearly equal shares, larger ones first.
    static func shares(of clients: Int, parts: Int) -> [Int] {
        (0..<parts).map { clients / parts + ($0 < clients % parts ? 1 : 0) }
    }

    /// 127.0.0.2, 127.0.0.3, ... for worker `index` when the target is loopback.
    static func sourceAddress(forWorker index: Int) -> String {
        let host = 2 + index
        return "127.0.\(host / 256).\(host % 256)"
    }

    // MARK: Worker side

    /// The worker's main loop: run the share, report, stop on EOF of stdin or a signal.
    static func runWorker(
        _ options: SimulateOptions, context: CommandContext
    ) throws(CommandError) -> Int32 {
        let environment = context.environment
        var source: in_addr?
        if let text = environment[sourceVariable] {
            var address = in_addr()
            guard inet_pton(AF_INET, text, &address) == 1 else {
                throw .failure("invalid \(sourceVariable) '\(text)'")
            }
            source = address
        }
        let inFlight = environment[inFlightVariable].flatMap(Int.init)
            ?? SimulationPlan.defaultMaxInFlight

        let engine: SimulationEngine
        do {
            let loops = SimulationEngine.defaultLoopCount
            let plan = try SimulationPlan(
                options: options, clientCount: options.clients, uidStart: options.uidStart,
                source: source, loopCount: loops, maxInFlight: inFlight,
                ramp: options.ramp.map(Double.init))
            engine = try SimulationEngine(plan: plan, loopCount: loops)
        } catch {
            throw .failure(error.description)
        }

        let stop = context.stop ?? StopSignal.processSignals()
        engine.start()
        while waitForTick(stop: stop) {
            report(engine.snapshot(), to: context.stdout)
        }
        report(engine.snapshot(), to: context.stdout)
        engine.stop()
        return IMCommandLine.ExitCode.success
    }

    /// Waits one report interval; false when the worker should stop.
    private static func waitForTick(stop: StopSignal) -> Bool {
        var descriptors = [
            pollfd(fd: stop.fd, events: Int16(POLLIN), revents: 0),
            pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
        ]
        let ready = poll(&descriptors, 2, reportIntervalMillis)
        if ready < 0 { return errno == EINTR }
        return descriptors[0].revents == 0 && descriptors[1].revents == 0
    }

    private static func report(_ snapshot: SimulationSnapshot, to output: any CommandOutput) {
        guard let data = try? JSONEncoder().encode(WorkerReport(snapshot)) else { return }
        output.write(Array(data) + [UInt8(ascii: "\n")])
    }
}

/// A worker process seen from the parent: spawned with pipes on stdin and stdout; a reader
/// thread keeps its latest report.
final class WorkerProcess: SimulationShard {
    let index: Int
    let clientCount: Int
    private let pid: pid_t
    private let stdinWriteEnd: Int32
    private let state = Mutex(State())
    private let readerDone = DispatchSemaphore(value: 0)

    private struct State {
        var latest = SimulationSnapshot()
        var exited = false
        var stdinClosed = false
    }

    init(
        index: Int, clientCount: Int, arguments: [String], environment: [String: String]
    ) throws(SimulateSetupError) {
        self.index = index
        self.clientCount = clientCount
        let executable = Self.executablePath()
        let (childInput, parentInput) = try Self.pipe()
        let (parentOutput, childOutput) = try Self.pipe()
        defer {
            close(childInput)
            close(childOutput)
        }

        pid = try Self.spawn(
            executable, arguments: arguments, environment: environment,
            stdin: childInput, stdout: childOutput)
        stdinWriteEnd = parentInput
        Thread.detachNewThread { [self] in
            readReports(from: parentOutput)
            readerDone.signal()
        }
    }

    /// The latest report; once the worker has gone, clients that never settled count as
    /// failed and connected ones as disconnected.
    func snapshot() -> SimulationSnapshot {
        state.withLock { state in
            var snapshot = state.latest
            guard state.exited, !state.stdinClosed else { return snapshot }
            let counters = snapshot.counters
            snapshot.counters.failed += max(0, clientCount - counters.settled)
            snapshot.counters.disconnected += counters.connected
            snapshot.counters.connected = 0
            if snapshot.firstError == nil {
                snapshot.firstError = "worker \(index) exited unexpectedly"
            }
            return snapshot
        }
    }

    /// Asks the worker to stop (end of file on its stdin) and waits for its last report.
    func stop() {
        let alreadyClosed = state.withLock { state in
            defer { state.stdinClosed = true }
            return state.stdinClosed
        }
        guard !alreadyClosed else { return }
        close(stdinWriteEnd)
        if readerDone.wait(timeout: .now() + 10) == .timedOut {
            _ = Glibc.kill(pid, SIGKILL)
        }
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
    }

    /// Ends the worker at once (the parent is failing).
    func terminate() {
        _ = Glibc.kill(pid, SIGTERM)
        stop()
    }

    private func readReports(from fd: Int32) {
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            pending.append(contentsOf: chunk[..<count])
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Data(pending[..<newline])
                pending.removeSubrange(...newline)
                if let report = try? JSONDecoder().decode(WorkerReport.self, from: line) {
                    state.withLock { $0.latest = report.snapshot }
                }
            }
        }
        close(fd)
        state.withLock { $0.exited = true }
    }

    // MARK: Spawning

    /// This process's own executable (the worker is the same binary).
    private static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return "/proc/self/exe" }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A pipe whose ends are closed on exec (the child gets its ends through dup2).
    private static func pipe() throws(SimulateSetupError) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        guard ends.withUnsafeMutableBufferPointer({ Glibc.pipe($0.baseAddress) }) == 0 else {
            throw SimulateSetupError("pipe: \(String(cString: strerror(errno)))")
        }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        return (ends[0], ends[1])
    }

    private static func spawn(
        _ executable: String, arguments: [String], environment: [String: String],
        stdin: Int32, stdout: Int32
    ) throws(SimulateSetupError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, STDIN_FILENO)
        posix_spawn_file_actions_adddup2(&actions, stdout, STDOUT_FILENO)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }

        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard status == 0 else {
            throw SimulateSetupError(
                "cannot start a worker process: \(String(cString: strerror(status)))")
        }
        return pid
    }
}
