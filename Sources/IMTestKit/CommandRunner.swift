import Foundation

/// Runs the built `imctl` as a separate process, the way a user or script would, and captures
/// what it printed and its exit status.
public enum CommandRunner {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public static func imctl(
        _ arguments: [String], stdin: [UInt8]? = nil, environment: [String: String] = [:],
        timeout: TimeInterval = 30
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try ServerProcess.binaryPath())
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "IMCTL_LOGIC")
        process.environment = env.merging(environment) { $1 }

        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()

        if let stdin { input.fileHandleForWriting.write(Data(stdin)) }
        try input.fileHandleForWriting.close()

        let stdoutData = Collected(out.fileHandleForReading)
        let stderrData = Collected(err.fileHandleForReading)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
        }
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: stdoutData.wait(), stderr: stderrData.wait())
    }
}

/// Drains a pipe on a background thread so a chatty child never blocks on a full pipe.
private final class Collected: @unchecked Sendable {
    // @unchecked Sendable: `data` is written only by the reader thread before `done` is
    // signalled, and read only after waiting on `done`.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            self.data = handle.readDataToEndOfFile()
            self.done.signal()
        }
    }

    func wait() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}
