import Foundation

/// `imctl generate man|completion`: the hidden maintenance command that writes the man pages
/// and completion scripts checked in under `man/` and `completions/` (see docs/cli.md).
enum GenerateCommand {
    static func man(_ context: CommandContext) throws(CommandError) -> Int32 {
        let renderer = ManPageRenderer()
        if let directory = context.command.values["output"] {
            for page in renderer.pages() {
                try write(page.text, to: directory, name: page.fileName, context)
            }
            return IMCommandLine.ExitCode.success
        }

        let path = context.command.argument("command").map { [$0] } ?? []
        let pageNames = CommandTree.root.visibleSubcommands.map(\.name)
        guard path.allSatisfy(pageNames.contains) else {
            throw context.usageError("no man page for '\(path[0])': give a top-level command")
        }
        context.stdout.write(renderer.page(for: path).text)
        return IMCommandLine.ExitCode.success
    }

    static func completion(_ context: CommandContext) throws(CommandError) -> Int32 {
        let name = context.command.argument("shell") ?? ""
        guard let shell = CompletionRenderer.Shell(rawValue: name) else {
            throw context.usageError("unknown shell '\(name)'")
        }

        let script = CompletionRenderer().script(for: shell)
        guard let directory = context.command.values["output"] else {
            context.stdout.write(script)
            return IMCommandLine.ExitCode.success
        }
        try write(script, to: directory, name: shell.fileName, context)
        return IMCommandLine.ExitCode.success
    }

    private static func write(
        _ text: String, to directory: String, name: String, _ context: CommandContext
    ) throws(CommandError) {
        let url = URL(fileURLWithPath: directory).appendingPathComponent(name)
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw .failure("cannot write \(url.path): \(error.localizedDescription)")
        }
        context.stdout.write("wrote \(url.path)\n")
    }
}
