import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A tansu broker (Apache Kafka–compatible, in-memory) started for a test on a free loopback
/// port. Find it with `scripts/kafka-test-broker`, which installs it and prints
/// `IMCTL_TANSU`; the test process must also run with `LD_LIBRARY_PATH=$IMCTL_RDKAFKA_LIBDIR`
/// (Debian's librdkafka 2.0.2 cannot talk to tansu). See docs/kafka.md.
///
/// Kafka tests fail when the broker cannot be started; they are skipped only when
/// `IMCTL_SKIP_KAFKA_TESTS=1` is set (`KafkaBroker.isSkipRequested`). Always `stop()` the
/// broker; `deinit` kills it as a last resort. Only the process started here is signalled.
public final class KafkaBroker: Sendable {
    public enum BrokerError: Error, CustomStringConvertible {
        case notProvisioned
        case notReady(String)
        case commandFailed(String, output: String)

        public var description: String {
            switch self {
            case .notProvisioned:
                return "IMCTL_TANSU is not set: run `eval \"$(scripts/kafka-test-broker --env)\"`"
                    + " and run the tests with LD_LIBRARY_PATH=$IMCTL_RDKAFKA_LIBDIR"
                    + " (or set \(KafkaBroker.skipVariable)=1 to skip the Kafka tests)"
            case .notReady(let log):
                return "tansu did not start accepting connections; its log:\n\(log)"
            case .commandFailed(let command, let output):
                return "\(command) failed:\n\(output)"
            }
        }
    }

    /// Setting this environment variable to `1` skips the Kafka tests.
    public static let skipVariable = "IMCTL_SKIP_KAFKA_TESTS"

    /// Whether the Kafka tests were explicitly turned off.
    public static var isSkipRequested: Bool {
        ProcessInfo.processInfo.environment[skipVariable] == "1"
    }

    /// The loopback port the broker listens on; kept across `restart()`.
    public let port: UInt16
    private let tansu: String
    private let directory: URL
    /// The running broker, reaped by `stop()`.
    private let child = Mutex<pid_t?>(nil)

    /// Starts tansu on a free port and waits (up to `timeout` seconds) until it accepts
    /// connections.
    public init(timeout: TimeInterval = 15) throws {
        guard let tansu = ProcessInfo.processInfo.environment["IMCTL_TANSU"], !tansu.isEmpty else {
            throw BrokerError.notProvisioned
        }
        self.tansu = tansu
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("imctl-kafka-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)

        port = try Self.freePort()
        try launch(timeout: timeout)
    }

    deinit {
        if let pid = child.withLock({ $0.take() }) {
            kill(pid, SIGKILL)
            _ = Self.waitForExit(pid, timeout: 5)
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The running broker's process id, nil while it is stopped.
    public var pid: Int32? { child.withLock { $0 } }

    /// `127.0.0.1:PORT`, for a `kafka://` URL.
    public var address: String { "127.0.0.1:\(port)" }

    /// What the broker wrote so far (all runs since `init`).
    public var log: String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    /// A topic name no other test uses.
    public static func uniqueTopic(_ prefix: String = "imctl-test") -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Creates `name` with `partitions` partitions (tansu's `topic create`).
    public func createTopic(_ name: String, partitions: Int = 3) throws {
        try run([
            "topic", "create", "--broker", "tcp://\(address)", "--partitions", "\(partitions)",
            name,
        ])
    }

    /// Stops the broker: SIGTERM, then SIGKILL after `timeout` seconds. Its topics and
    /// messages are gone (in-memory storage).
    public func stop(timeout: TimeInterval = 5) {
        guard let pid = child.withLock({ $0.take() }) else { return }
        kill(pid, SIGTERM)
        if !Self.waitForExit(pid, timeout: timeout) {
            kill(pid, SIGKILL)
            _ = Self.waitForExit(pid, timeout: timeout)
        }
    }

    /// Starts the broker again on the same port, empty: create the topics again.
    public func restart(timeout: TimeInterval = 15) throws {
        stop()
        try launch(timeout: timeout)
    }

    private var logFile: URL { directory.appendingPathComponent("tansu.log") }

    private func launch(timeout: TimeInterval) throws {
        let listener = "tcp://\(address)"
        let pid = try spawn([
            "broker", "--listener-url", listener, "--advertised-listener-url", listener,
            "--storage-engine", "memory://tansu/",
        ])
        child.withLock { $0 = pid }

        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if Self.hasExited(pid) {
                child.withLock { $0 = nil }  // reaped: its pid must not be signalled again
                throw BrokerError.notReady(log)
            }
            if Self.acceptsConnections(port) { return }
            usleep(20_000)
        }
        stop()
        throw BrokerError.notReady(log)
    }

    /// Starts tansu with its output appended to the log. posix_spawn rather than `Process`:
    /// the test runner's threads block most signals and a child would inherit that mask,
    /// leaving tansu deaf to SIGTERM; here the child starts with none blocked.
    private func spawn(_ arguments: [String]) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let appendFlags = O_WRONLY | O_CREAT | O_APPEND
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logFile.path, appendFlags, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var signals = sigset_t()
        sigemptyset(&signals)
        posix_spawnattr_setsigmask(&attributes, &signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        posix_spawnattr_setsigdefault(&attributes, &signals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        return try withCStrings([tansu] + arguments) { argv in
            var pid = pid_t()
            let status = posix_spawn(&pid, tansu, &actions, &attributes, argv, environ)
            guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EIO) }
            return pid
        }
    }

    /// Runs a tansu client command to completion (at most `timeout` seconds).
    private func run(_ arguments: [String], timeout: TimeInterval = 15) throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: tansu)
        child.arguments = arguments
        let pipe = Pipe()
        child.standardOutput = pipe
        child.standardError = pipe
        try child.run()

        let finished = Self.waitForProcess(child, timeout: timeout)
        if !finished {
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
        }
        let output = String(
            decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard finished, child.terminationStatus == 0 else {
            throw BrokerError.commandFailed(
                "tansu " + arguments.joined(separator: " "), output: output)
        }
    }

    private static func waitForProcess(_ process: Process, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        return !process.isRunning
    }

    /// Reaps `pid` if it has exited within `timeout` seconds; whether it did.
    private static func waitForExit(_ pid: pid_t, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if hasExited(pid) { return true }
            usleep(10_000)
        }
        return hasExited(pid)
    }

    /// Whether `pid` has exited (and is now reaped).
    private static func hasExited(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) != 0
    }

    /// A port that was free a moment ago (the kernel's pick for port 0).
    private static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(fd) }

        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        guard bound else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EADDRINUSE) }
        return UInt16(bigEndian: address.sin_port)
    }

    private static func acceptsConnections(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }

        var address = loopback(port: port)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                connect(fd, socketAddress, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}

/// Runs `body` with `strings` as a NULL-terminated C `argv`.
private func withCStrings<R>(
    _ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) throws -> R
) rethrows -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return try body(pointers)
}
