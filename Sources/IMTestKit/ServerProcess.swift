import Foundation
import Synchronization

/// A real `imctl` process started for a test: it binds port 0 everywhere and the harness learns
/// the real addresses from the "listening" lines it logs. Always `stop()` it (SIGTERM, then
/// SIGKILL after a grace period); `deinit` kills it as a last resort.
public final class ServerProcess: Sendable {
    public enum HarnessError: Error, CustomStringConvertible {
        case binaryNotFound([String])
        case notReady(String)

        public var description: String {
            switch self {
            case .binaryNotFound(let tried):
                return "imctl binary not found; tried \(tried.joined(separator: ", "))"
            case .notReady(let log):
                return "imctl did not report its listeners in time; log so far:\n\(log)"
            }
        }
    }

    private let process: Process
    private let output: OutputCollector

    /// Addresses by protocol name from the "listening" log lines (`tcp`, `ws`, `http`, ...).
    public let addresses: [String: HostPort]

    /// Starts `imctl <arguments>` and waits until every protocol in `awaiting` is listening.
    public init(
        arguments: [String], awaiting: Set<String>, environment: [String: String] = [:],
        timeout: TimeInterval = 30
    ) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try ServerProcess.binaryPath())
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }

        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        let output = OutputCollector(pipe.fileHandleForReading)
        try process.run()

        self.process = process
        self.output = output
        do {
            self.addresses = try output.waitForListeners(awaiting, timeout: timeout)
        } catch {
            process.terminate()
            process.waitUntilExit()
            throw error
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    public var pid: Int32 { process.processIdentifier }

    /// Everything the process wrote to stdout and stderr so far.
    public var log: String { output.text }

    /// Sends `signal` and waits up to `timeout` for the exit; returns the exit status, or nil
    /// if it had to be killed.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, timeout: TimeInterval = 10) -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, signal)

        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    /// Where the `imctl` executable is: `$IMCTL_BINARY`, next to the test bundle, or in the
    /// package's `.build/debug`.
    public static func binaryPath() throws -> String {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["IMCTL_BINARY"] {
            candidates.append(explicit)
        }
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let sibling = testBinary.deletingLastPathComponent().appendingPathComponent("imctl")
        candidates.append(sibling.path)
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent(".build/debug/imctl").path)

        let isExecutable = { FileManager.default.isExecutableFile(atPath: $0) }
        guard let found = candidates.first(where: isExecutable)
        else { throw HarnessError.binaryNotFound(candidates) }
        return found
    }
}

/// A host and port as logged by imctl (`address=127.0.0.1:8080`).
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public init?(_ text: some StringProtocol) {
        guard let colon = text.lastIndex(of: ":"),
            let port = UInt16(text[text.index(after: colon)...])
        else { return nil }
        self.init(host: String(text[..<colon]), port: port)
    }

    public var description: String { "\(host):\(port)" }
}

/// Collects a child's output on a background reader and answers "is X listening yet?".
final class OutputCollector: Sendable {
    private let buffer = Mutex<String>("")
    private let reader: FileHandle

    init(_ reader: FileHandle) {
        self.reader = reader
        Thread.detachNewThread { [self] in
            while true {
                let data = reader.availableData
                if data.isEmpty { return }
                let chunk = String(decoding: data, as: UTF8.self)
                self.buffer.withLock { $0 += chunk }
            }
        }
    }

    var text: String { buffer.withLock { $0 } }

    func waitForListeners(_ protocols: Set<String>, timeout: TimeInterval) throws
        -> [String: HostPort]
    {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let found = Self.listeners(in: text)
            if protocols.isSubset(of: found.keys) { return found }
            usleep(20_000)
        }
        throw ServerProcess.HarnessError.notReady(text)
    }

    /// Parses lines like `... listening address=127.0.0.1:40123 proto=tcp`.
    static func listeners(in log: String) -> [String: HostPort] {
        var result: [String: HostPort] = [:]
        for line in log.split(separator: "\n") where line.contains("listening") {
            var proto: String?
            var address: HostPort?
            for field in line.split(separator: " ") {
                if field.hasPrefix("proto=") { proto = String(field.dropFirst(6)) }
                if field.hasPrefix("address=") { address = HostPort(field.dropFirst(8)) }
            }
            if let proto, let address { result[proto] = address }
        }
        return result
    }
}
