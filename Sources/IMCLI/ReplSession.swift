import Foundation
import IMCore

/// The REPL's loop, independent of where lines come from: tests drive it with `ListedLines`.
struct ReplSession {
    struct Settings {
        /// Logic's URL for the commands (`IMCTL_LOGIC` for each command run).
        var logic: String
        var environment: [String: String]
        var stdout: any CommandOutput
        var stderr: any CommandOutput
        /// Prompting, history and exit status 0 (else no prompt, and 1 when a line failed).
        var isInteractive = false
        /// Where accepted lines are recorded; nil keeps none.
        var history: ReplHistory?
    }

    private var settings: Settings
    /// Handed to every command; `client connect` stops when it fires (Ctrl-C).
    private let stop: StopSignal
    private let interrupts: ReplInterrupts?
    private var lastRecorded: String?
    private var anyLineFailed = false

    init(_ settings: Settings, stop: StopSignal, interrupts: ReplInterrupts? = nil) {
        self.settings = settings
        self.stop = stop
        self.interrupts = interrupts
    }

    /// The prompt: `imctl 127.0.0.1:7172> `.
    var prompt: String {
        "\(CommandTree.toolName) \(Self.target(of: settings.logic))> "
    }

    /// `host:port` of a logic URL (the URL itself when it does not parse).
    static func target(of logic: String) -> String {
        guard let components = URLComponents(string: logic), let host = components.host,
            !host.isEmpty
        else { return logic }

        let shownHost = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let port = components.port ?? (components.scheme == "https" ? 443 : 80)
        return "\(shownHost):\(port)"
    }

    /// Reads and runs lines until the input ends or `quit`; returns the exit status.
    mutating func run(_ source: inout some ReplLineSource) -> Int32 {
        while true {
            switch source.read(prompt: prompt) {
            case .line(let line):
                record(line, in: &source)
                if case .quit = execute(line) { return finalStatus }
                if !settings.isInteractive, interrupts?.takeInterrupt() == true {
                    return IMCommandLine.ExitCode.interrupted
                }
            case .interrupted:
                if !settings.isInteractive { return IMCommandLine.ExitCode.interrupted }
            case .tooLong:
                fail("a line is longer than \(ByteSize.format(Repl.maxLineLength)); skipped")
            case .failed(let message):
                fail(message)
                return finalStatus
            case .end:
                return finalStatus
            }
        }
    }

    private var finalStatus: Int32 {
        settings.isInteractive || !anyLineFailed
            ? IMCommandLine.ExitCode.success : IMCommandLine.ExitCode.failure
    }

    private mutating func fail(_ message: String) {
        settings.stderr.write("Error: \(message)\n")
        anyLineFailed = true
    }

    /// What running a line came to.
    enum Outcome: Equatable {
        case ran(status: Int32)
        case skipped
        case quit
    }

    /// Runs one line: REPL words (`quit`, `help`), refusals (`serve`), else the command.
    @discardableResult
    mutating func execute(_ line: String) -> Outcome {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { return .skipped }

        var words: [String]
        do {
            words = try ShellWords.split(line)
        } catch {
            fail(error.message)
            return .ran(status: IMCommandLine.ExitCode.usage)
        }
        if words.first == CommandTree.toolName { words.removeFirst() }  // pasted from a shell
        guard let first = words.first else { return .skipped }

        guard let status = runWords(words, first: first) else { return .quit }
        if status != IMCommandLine.ExitCode.success { anyLineFailed = true }
        return .ran(status: status)
    }

    /// The status of running `words`, or nil for a quit word.
    private mutating func runWords(_ words: [String], first: String) -> Int32? {
        if Repl.quitWords.contains(first) {
            guard words.count == 1 else {
                settings.stderr.write("Error: '\(first)' takes no arguments\n")
                return IMCommandLine.ExitCode.usage
            }
            return nil
        }
        if first == CommandTree.help.name, words.count == 1 {
            settings.stdout.write(help)
            return IMCommandLine.ExitCode.success
        }
        if let reason = Repl.refusedCommands[first] {
            settings.stderr.write("Error: \(reason)\n")
            return IMCommandLine.ExitCode.usage
        }
        return runCommand(words)
    }

    private func runCommand(_ words: [String]) -> Int32 {
        var environment = settings.environment
        environment[CommandTree.logicOption.environment ?? "IMCTL_LOGIC"] = settings.logic

        _ = interrupts?.takeInterrupt()
        stop.reset()
        let run = {
            IMCommandLine.run(
                arguments: words, environment: environment, stdin: ReplCommandInput(),
                stdout: settings.stdout, stderr: settings.stderr, stop: stop)
        }
        guard let interrupts, settings.isInteractive else { return run() }

        // The terminal echoes ^C where the output stands; what follows goes on a new line.
        let echoFD = (settings.stdout as? FileDescriptorOutput)?.fd
        return interrupts.whileRunning(echoingNewlineTo: echoFD, run)
    }

    /// Adds an interactive line to the editor's history and the history file, unless it is
    /// one to leave out (`ReplHistory.shouldRecord`). A file that cannot be written is
    /// reported once and then left alone.
    private mutating func record(_ line: String, in source: inout some ReplLineSource) {
        guard settings.isInteractive,
            ReplHistory.shouldRecord(line, previous: lastRecorded)
        else { return }

        lastRecorded = line
        source.remember(line)
        do {
            try settings.history?.append(line)
        } catch {
            settings.stderr.write("warning: history is not saved: \(error)\n")
            settings.history = nil
        }
    }

    // MARK: - Help and completion

    /// `help` without a command: the commands, the REPL's own words and keys.
    var help: String {
        let terminal = (settings.stdout as? FileDescriptorOutput)
            .flatMap { $0.isTerminal ? $0.fd : nil }
        let renderer = HelpRenderer(
            width: HelpRenderer.width(from: settings.environment, terminal: terminal))
        let commands = Self.completer.root.visibleSubcommands
            .filter { !Repl.quitWords.contains($0.name) }
            .map { ($0.name, $0.abstract) }
        let rows = commands + [("quit, exit", "Leave the REPL (Ctrl-D does too).")]
        let keys = """
            Each line is what would follow 'imctl' in a shell, with the same quoting. \
            'help COMMAND' shows a command's options. Tab completes, Up and Ctrl-R recall \
            history, Ctrl-C discards the line or stops 'client connect'. Commands go to \
            \(settings.logic) unless a line gives --logic.
            """
        let text = renderer.wrapLines(keys, width: renderer.width).joined(separator: "\n")
        return renderer.list("COMMANDS:", rows) + "\n\n" + text + "\n"
    }

    /// Tab completion inside the REPL: the tree without the refused commands, plus the quit
    /// words.
    static let completer: CommandCompleter = {
        var root = CommandTree.root
        root.subcommands = root.subcommands.filter { Repl.refusedCommands[$0.name] == nil }
        root.subcommands += Repl.quitWords.sorted().map {
            CommandSpec(name: $0, abstract: "Leave the REPL.")
        }
        return CommandCompleter(root: root)
    }()

    /// What Tab offers for the word starting with `prefix` after the text `before` on the
    /// line (nothing inside an unterminated quote).
    static func completions(before: String, prefix: String) -> CommandCompleter.Offer {
        guard var words = try? ShellWords.split(before) else { return .nothing }
        if words.first == CommandTree.toolName { words.removeFirst() }
        return completer.offer(after: words, prefix: prefix)
    }
}

/// A command's standard input inside the REPL: there is none (it carries the commands), so a
/// message must be given on the line.
struct ReplCommandInput: CommandInput {
    var isTerminal: Bool { true }

    func readAll(limit: Int) throws(InputError) -> [UInt8] {
        throw .unavailable
    }
}
