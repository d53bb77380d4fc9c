/// What runs each command of the tree. The grammar is in `CommandTree`; this table only maps
/// a command path to code (a test checks that every runnable command has an entry).
enum CommandHandlers {
    typealias Handler = @Sendable (CommandContext) throws(CommandError) -> Int32

    /// Handlers by command path joined with spaces (`"serve all"`).
    static let table: [String: Handler] = [
        "": { context throws(CommandError) in try version(context) },  // `imctl --version`
        "serve all": { context throws(CommandError) in try serve(context, run: ServeAll.run) },
        "serve comet": { context throws(CommandError) in
            try serve(context, run: ServeRoles.comet)
        },
        "serve logic": { context throws(CommandError) in
            try serve(context, run: ServeRoles.logic)
        },
        "serve router": { context throws(CommandError) in
            try serve(context, run: ServeRoles.router)
        },
        "serve job": { context throws(CommandError) in try serve(context, run: ServeRoles.job) },
        "push": { context throws(CommandError) in try AdminCommands.push(context) },
        "pushs": { context throws(CommandError) in try AdminCommands.pushs(context) },
        "push-all": { context throws(CommandError) in try AdminCommands.pushAll(context) },
        "push-room": { context throws(CommandError) in try AdminCommands.pushRoom(context) },
        "server-del": { context throws(CommandError) in try AdminCommands.serverDelete(context) },
        "count": { context throws(CommandError) in try AdminCommands.count(context) },
        "client connect": { context throws(CommandError) in try ClientConnect.run(context) },
        "client simulate": { context throws(CommandError) in try ClientSimulate.run(context) },
        "repl": { context throws(CommandError) in try Repl.run(context) },
        "generate man": { context throws(CommandError) in try GenerateCommand.man(context) },
        "generate completion": { context throws(CommandError) in
            try GenerateCommand.completion(context)
        },
        "help": { context throws(CommandError) in try help(context) },
        "version": { context throws(CommandError) in try version(context) },
    ]

    /// Runs the parsed command (or its help).
    static func run(_ context: CommandContext) throws(CommandError) -> Int32 {
        let command = context.command
        if command.wantsHelp {
            context.stdout.write(context.renderer.help(for: command.spec, path: command.path))
            return IMCommandLine.ExitCode.success
        }
        guard let handler = table[command.path.joined(separator: " ")] else {
            throw context.usageError("'\(command.path.joined(separator: " "))' cannot be run")
        }
        return try handler(context)
    }

    private static func help(_ context: CommandContext) throws(CommandError) -> Int32 {
        let path = context.command.arguments(from: "command")
        guard let spec = CommandTree.command(at: path) else {
            throw context.usageError("unknown command '\(path.joined(separator: " "))'")
        }
        context.stdout.write(context.renderer.help(for: spec, path: path))
        return IMCommandLine.ExitCode.success
    }

    private static func version(_ context: CommandContext) throws(CommandError) -> Int32 {
        context.stdout.write("\(CommandTree.toolName) \(IMCommandLine.version)\n")
        return IMCommandLine.ExitCode.success
    }

    /// Resolves a serve command's settings, then prints them (`--print-config`) or serves.
    private static func serve<Configuration: ServeSettings>(
        _ context: CommandContext, run: (Configuration) -> Int32
    ) throws(CommandError) -> Int32 {
        let configuration: Configuration
        do {
            configuration = try Configuration.resolve(
                context.command, environment: context.environment)
        } catch {
            throw .usage(error)
        }

        if context.flag("print-config") {
            context.stdout.write(configuration.configFileText)
            return IMCommandLine.ExitCode.success
        }
        return run(configuration)
    }
}
