import Foundation

/// `imctl repl` (and bare `imctl`): reads command lines and runs each one through
/// `IMCommandLine.run`, exactly as if it had followed `imctl` on a shell command line.
///
/// On a terminal (standard input and output both) it is interactive: libedit's line editor
/// with a prompt naming the logic target, Tab completion from the command tree, and a history
/// file; the exit status is 0. Otherwise it reads lines without a prompt, runs every one even
/// after a failure (as psql does by default), and exits 1 if any line failed, else 0; a
/// Ctrl-C (SIGINT) ends it with 130.
enum Repl {
    /// Input beyond this many bytes on one line is skipped with an error.
    static let maxLineLength = 1 << 20

    /// Words that leave the REPL.
    static let quitWords: Set<String> = ["quit", "exit"]

    /// Top-level commands that do not run inside the REPL, with the reason.
    static let refusedCommands: [String: String] = [
        "serve": "'serve' does not run inside the REPL; start it from a shell: imctl serve all",
        "repl": "already in the REPL",
    ]

    static func run(_ context: CommandContext) throws(CommandError) -> Int32 {
        let logic = try context.value("logic") ?? CommandTree.logicOption.defaultValue ?? ""
        let settings = ReplSession.Settings(
            logic: logic, environment: context.environment, stdout: context.stdout,
            stderr: context.stderr)

        // Injected input (tests, embedding) is read whole; the process's input line by line.
        guard let input = context.stdin as? FileDescriptorInput else {
            var lines = try ListedLines(readingAllOf: context.stdin)
            var session = ReplSession(settings, stop: context.stop ?? StopSignal())
            return session.run(&lines)
        }
        let interrupts = ReplInterrupts.install()
        if input.fd == STDIN_FILENO, input.isTerminal, context.stdout.isTerminal {
            return runInteractive(settings, interrupts: interrupts)
        }

        var lines = DescriptorLines(fd: input.fd, interrupts: interrupts)
        var session = ReplSession(settings, stop: interrupts.stop, interrupts: interrupts)
        return session.run(&lines)
    }

    private static func runInteractive(
        _ settings: ReplSession.Settings, interrupts: ReplInterrupts
    ) -> Int32 {
        var settings = settings
        settings.isInteractive = true
        settings.history = ReplHistory(environment: settings.environment)

        var editor = ReplLineEditor(
            history: settings.history?.load() ?? [], interrupts: interrupts,
            output: settings.stdout)
        var session = ReplSession(settings, stop: interrupts.stop, interrupts: interrupts)
        return session.run(&editor)
    }
}
