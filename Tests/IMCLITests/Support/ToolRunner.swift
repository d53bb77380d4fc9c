import Foundation

/// Runs an installed tool (bash, zsh, fish, groff) for the tests that check what the shells
/// and man make of the generated files. Every run is bounded by a timeout.
enum ToolRunner {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The tool's path when it is installed in one of the usual directories.
    static func path(of tool: String) -> String? {
        ["/usr/bin", "/bin", "/usr/local/bin"]
            .map { "\($0)/\(tool)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func isInstalled(_ tool: String) -> Bool {
        path(of: tool) != nil
    }

    static func run(
        _ tool: String, _ arguments: [String], stdin: String = "",
        environment: [String: String] = [:], timeout: TimeInterval = 30
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path(of: tool) ?? tool)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }

        let (out, err, input) = (Pipe(), Pipe(), Pipe())
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()

        let stdout = Drained(out.fileHandleForReading)
        let stderr = Drained(err.fileHandleForReading)
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()

        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: stdout.wait(), stderr: stderr.wait())
    }

    /// A fresh directory under the temporary directory.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("imctl-cli-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Reads a pipe to its end on a background thread, so a chatty child never blocks.
private final class Drained: @unchecked Sendable {
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
