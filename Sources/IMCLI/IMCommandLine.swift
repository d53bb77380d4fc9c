import Foundation

/// The `imctl` entry point: parses the command line against `CommandTree`, runs the command
/// and returns its exit code — 0 success, 1 the operation failed, 64 usage error.
public enum IMCommandLine {
    /// The version `imctl --version` prints.
    public static let version = "0.1.0"

    /// Exit codes (sysexits' `EX_USAGE` for usage errors).
    public enum ExitCode {
        public static let success: Int32 = 0
        public static let failure: Int32 = 1
        public static let usage: Int32 = 64
        /// A REPL script stopped by Ctrl-C (SIGINT), as a shell reports a process it killed.
        public static let interrupted: Int32 = 130
    }

    /// Runs the process's command line and exits with the command's code.
    public static func main() -> Never {
        let status = run(
            arguments: Array(CommandLine.arguments.dropFirst()),
            environment: ProcessInfo.processInfo.environment,
            stdin: FileDescriptorInput(fd: STDIN_FILENO),
            stdout: FileDescriptorOutput(fd: STDOUT_FILENO),
            stderr: FileDescriptorOutput(fd: STDERR_FILENO))
        exit(status)
    }

    /// Runs one command line with injected streams, for `main` and for tests.
    ///
    /// - Parameters:
    ///   - arguments: the words after the program name; none means `repl`.
    ///   - stop: ends long-running commands (`client connect`) when triggered; nil installs
    ///     SIGINT/SIGTERM handlers when such a command starts.
    /// - Returns: the exit code.
    public static func run(
        arguments: [String], environment: [String: String], stdin: any CommandInput,
        stdout: any CommandOutput, stderr: any CommandOutput, stop: StopSignal? = nil
    ) -> Int32 {
        let terminal = (stdout as? FileDescriptorOutput).flatMap { $0.isTerminal ? $0.fd : nil }
        let width = HelpRenderer.width(from: environment, terminal: terminal)
        let renderer = HelpRenderer(width: width)
        let arguments = arguments.isEmpty ? [CommandTree.repl.name] : arguments

        do {
            let command = try parse(arguments)
            let context = CommandContext(
                command: command, environment: environment, stdin: stdin, stdout: stdout,
                stderr: stderr, stop: stop, renderer: renderer)
            return try CommandHandlers.run(context)
        } catch {
            switch error {
            case .usage(let error):
                stderr.write(usageReport(error, renderer: renderer))
                return ExitCode.usage
            case .failure(let message):
                stderr.write("Error: \(message)\n")
                return ExitCode.failure
            }
        }
    }

    private static func parse(_ arguments: [String]) throws(CommandError) -> ParsedCommand {
        do {
            return try ArgumentParser().parse(arguments)
        } catch {
            throw .usage(error)
        }
    }

    /// The three-line report of a usage error.
    static func usageReport(_ error: UsageError, renderer: HelpRenderer) -> String {
        let command = CommandTree.command(at: error.path) ?? CommandTree.root
        let helpWords = ([CommandTree.toolName] + error.path + ["--help"]).joined(separator: " ")
        return """
            Error: \(error.message)
            Usage: \(renderer.usageLine(for: command, path: error.path))
            See '\(helpWords)'.

            """
    }
}

/// How a command ends when it does not return an exit code.
enum CommandError: Error {
    /// Exit 64 with the usage hint.
    case usage(UsageError)
    /// Exit 1 with `Error: <message>`.
    case failure(String)
}

/// What a command handler gets: its parsed command line and the process around it.
struct CommandContext: Sendable {
    var command: ParsedCommand
    var environment: [String: String]
    var stdin: any CommandInput
    var stdout: any CommandOutput
    var stderr: any CommandOutput
    var stop: StopSignal?
    var renderer: HelpRenderer

    /// A usage error about this command.
    func usageError(_ message: String) -> CommandError {
        .usage(UsageError(message, path: command.path))
    }

    /// Whether the flag `long` was given.
    func flag(_ long: String) -> Bool {
        command.flags.contains(long)
    }

    /// The value of option `long` from flag, environment or default, with where it came from.
    func resolved(_ long: String) throws(CommandError) -> SettingLayers.Resolved? {
        guard let option = command.spec.option(long: long) else { return nil }

        let layers = SettingLayers(command: command, environment: environment, file: nil)
        do {
            return try layers.resolve(option)
        } catch {
            throw .usage(error)
        }
    }

    /// The value of option `long`, as `resolved` finds it.
    func value(_ long: String) throws(CommandError) -> String? {
        try resolved(long)?.text
    }

    /// The error for a value of option `long` that parsed but is not acceptable.
    func invalid(_ long: String, _ resolved: SettingLayers.Resolved, _ problem: String)
        -> CommandError
    {
        let layers = SettingLayers(command: command, environment: environment, file: nil)
        let option = command.spec.option(long: long)
            ?? OptionSpec(long: long, kind: .flag, abstract: "")
        return .usage(layers.invalid(resolved, option: option, problem: problem))
    }
}
