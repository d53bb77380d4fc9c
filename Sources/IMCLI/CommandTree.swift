/// The whole imctl command tree, as data. Help, man pages, completions and the REPL are all
/// rendered from `CommandTree.root`; the parser accepts exactly what it describes.
public enum CommandTree {
    /// The tool's name, the root of every usage line.
    public static let toolName = "imctl"

    /// The root command (`imctl`), with `--help` added to every command.
    public static let root: CommandSpec = addingHelp(to: bareRoot)

    /// The command at `path` below the root (`["serve", "all"]`), or nil.
    public static func command(at path: [String]) -> CommandSpec? {
        var command = root
        for name in path {
            guard let child = command.subcommand(named: name) else { return nil }
            command = child
        }
        return command
    }

    /// Every command path in the tree, parents before children (`[]`, `["serve"]`, ...).
    public static var allPaths: [[String]] {
        func walk(_ command: CommandSpec, _ path: [String]) -> [[String]] {
            [path] + command.subcommands.flatMap { walk($0, path + [$0.name]) }
        }
        return walk(root, [])
    }

    static let helpOption = OptionSpec(
        long: "help", short: "h", kind: .flag, abstract: "Show help information.")

    static let versionOption = OptionSpec(
        long: "version", kind: .flag, abstract: "Show the version.")

    private static func addingHelp(to command: CommandSpec) -> CommandSpec {
        var command = command
        command.options.append(helpOption)
        command.subcommands = command.subcommands.map(addingHelp)
        return command
    }

    private static let bareRoot = CommandSpec(
        name: toolName,
        abstract: "A goim-compatible push server and its admin client.",
        discussion: """
            'imctl serve all' runs a complete push server in one process. The other commands \
            talk to a running server: push messages through logic's HTTP API, read online \
            counts, or connect as a client.

            Without a command, imctl reads commands the way 'imctl repl' does: interactively \
            when standard input and output are terminals, else line by line from standard \
            input.

            Exit codes: 0 success, 1 the operation failed (server error, unreachable), \
            64 usage error.
            """,
        options: [versionOption],
        subcommands: [
            serve, push, pushs, pushAll, pushRoom, serverDelete, count, client, repl, help,
            version, generate,
        ],
        environment: [Note("COLUMNS", "The width help text is wrapped to (default 80).")])
}

// MARK: - Shared option groups

extension CommandTree {
    /// Options of every command that calls logic's HTTP API.
    static let logicOption = OptionSpec(
        long: "logic", valueName: "url", kind: .value(.url),
        abstract: "Logic's HTTP address.", defaultValue: "http://127.0.0.1:7172",
        environment: "IMCTL_LOGIC")

    static let logicClientOptions: [OptionSpec] = [
        logicOption,
        OptionSpec(
            long: "json", kind: .flag,
            abstract: "Print logic's JSON response as it was received."),
    ]

    static let messageArgument = ArgumentSpec(
        name: "message",
        abstract: """
            The message bytes, sent unchanged. '-' reads standard input to its end, as does \
            leaving it out when standard input is not a terminal.
            """,
        isOptional: true)

    static let serveAllOptions: [OptionSpec] = [
        serveOption("tcp", "host:port", .address, "0.0.0.0:8080", "Address for goim TCP clients."),
        serveOption(
            "ws", "host:port", .address, "0.0.0.0:8090",
            "Address for WebSocket clients (path /sub)."),
        optionalServeOption(
            "tcp-tls", "host:port", .address,
            "Address for goim TCP clients over TLS; off unless given."),
        optionalServeOption(
            "wss", "host:port", .address,
            "Address for WebSocket clients over TLS (wss, path /sub); off unless given."),
        optionalServeOption(
            "tls-cert", "file", .file,
            "PEM certificate chain (leaf first) for --tcp-tls and --wss."),
        optionalServeOption(
            "tls-key", "file", .file, "PEM private key (unencrypted) for --tcp-tls and --wss."),
        serveOption("http", "host:port", .address, "0.0.0.0:7172", "Address of the HTTP push API."),
        serveOption("server-id", "n", .integer, "1", "This comet's server id (1 or more)."),
        serveOption(
            "loops", "n", .integer, "0",
            "Event-loop threads for connections; 0 means one per core (serve all runs as many "
                + "again for its HTTP API, serve comet one more for its RPC)."),
        serveOption(
            "handshake-timeout", "duration", .duration, "5s",
            "How long a new connection may take to authenticate."),
        serveOption(
            "heartbeat-timeout", "duration", .duration, "5m",
            "How long an authenticated connection may stay silent."),
        serveOption(
            "max-frame-body", "size", .size, "4KiB", "The largest frame body a client may send."),
        serveOption(
            "outbound-limit", "size", .size, "1MiB",
            "Bytes queued for one slow client before it is disconnected."),
        serveOption(
            "write-timeout", "duration", .duration, "10s",
            "How long queued bytes may wait for a client before it is disconnected."),
        serveOption(
            "http-max-body", "size", .size, "1MiB", "The largest HTTP request body logic accepts."),
        serveOption(
            "room-batch", "n", .integer, "40", "Room messages job coalesces into one batch."),
        serveOption(
            "room-window", "duration", .duration, "1s",
            "How long job coalesces room messages after each send to the comets."),
        serveOption(
            "room-queue", "n", .integer, "80",
            "Room messages job holds per room before it drops new ones (at least two batches)."),
        serveOption(
            "queue", "url", .string, "memory",
            "Where logic publishes and job consumes: memory, or kafka://HOST:PORT/TOPIC."),
        serveOption(
            "queue-capacity", "n", .integer, "65536",
            "Dispatch messages the memory queue holds before logic answers 503."),
        serveOption(
            "log-level", "level", .choice(["trace", "debug", "info", "warning", "error"]), "info",
            "The lowest level that is logged."),
        OptionSpec(
            long: "config", valueName: "file", kind: .value(.file),
            abstract: "Read 'key = value' settings from a file (keys are the long option names).",
            environment: OptionSpec.environmentName(for: "config")),
        OptionSpec(
            long: "print-config", kind: .flag,
            abstract: "Print the resolved configuration in the config-file syntax and exit."),
    ]

    /// A `serve` setting: settable by flag, `IMCTL_*` variable and config file.
    static func serveOption(
        _ long: String, _ valueName: String, _ kind: ValueKind, _ defaultValue: String,
        _ abstract: String
    ) -> OptionSpec {
        OptionSpec(
            long: long, valueName: valueName, kind: .value(kind), abstract: abstract,
            defaultValue: defaultValue, environment: OptionSpec.environmentName(for: long),
            isConfigKey: true)
    }

    /// A `serve` setting with no default: off or absent unless given.
    static func optionalServeOption(
        _ long: String, _ valueName: String, _ kind: ValueKind, _ abstract: String
    ) -> OptionSpec {
        OptionSpec(
            long: long, valueName: valueName, kind: .value(kind), abstract: abstract,
            environment: OptionSpec.environmentName(for: long), isConfigKey: true)
    }
}

extension OptionSpec {
    /// A config key without a default: unset means off (the TLS listeners and their files).
    var isOptionalSetting: Bool { isConfigKey && defaultValue == nil }
}

// MARK: - Commands

extension CommandTree {
    static let serve = CommandSpec(
        name: "serve",
        abstract: "Run the server roles.",
        discussion: """
            'serve all' runs comet, logic, router and job in one process with the in-memory \
            queue. The other subcommands run one role each, for the distributed mode.

            Settings are taken from, in order: the flag, the IMCTL_* environment variable, the \
            --config file, the default.
            """,
        subcommands: [
            CommandSpec(
                name: "all",
                abstract: "Run comet, logic, router and job in one process.",
                discussion: """
                    Each setting comes from the flag, else its IMCTL_* environment variable, \
                    else the --config file, else the default. --print-config shows the result \
                    in the config-file syntax.
                    """,
                options: serveAllOptions),
            serveComet, serveLogic, serveRouter, serveJob,
        ])

    static let push = CommandSpec(
        name: "push",
        abstract: "Push a message to every session of one user.",
        discussion: "Calls POST /1/push?uid=UID with the message as the body.",
        arguments: [messageArgument],
        options: [
            OptionSpec(
                long: "uid", valueName: "uid", kind: .value(.integer),
                abstract: "The user id (mid) to push to.", isRequired: true)
        ] + logicClientOptions)

    static let pushs = CommandSpec(
        name: "pushs",
        abstract: "Push a JSON message to several users.",
        discussion: """
            Calls POST /1/pushs with the body {"u":[UIDS],"m":JSON}; the JSON text is \
            embedded unchanged, so it must be valid JSON.
            """,
        arguments: [
            ArgumentSpec(
                name: "json",
                abstract: """
                    The message, a JSON value. '-' reads standard input to its end, as does \
                    leaving it out when standard input is not a terminal.
                    """,
                isOptional: true)
        ],
        options: [
            OptionSpec(
                long: "uids", valueName: "uid,...", kind: .value(.string),
                abstract: "Comma-separated user ids (mids) to push to.", isRequired: true)
        ] + logicClientOptions)

    static let pushAll = CommandSpec(
        name: "push-all",
        abstract: "Push a message to every connected session.",
        discussion: "Calls POST /1/push/all with the message as the body.",
        arguments: [messageArgument],
        options: logicClientOptions)

    static let pushRoom = CommandSpec(
        name: "push-room",
        abstract: "Push a message to every session in a room.",
        discussion: "Calls POST /1/push/room?rid=RID with the message as the body.",
        arguments: [messageArgument],
        options: [
            OptionSpec(
                long: "room", valueName: "rid", kind: .value(.integer),
                abstract: "The room id.", isRequired: true),
            OptionSpec(
                long: "ensure", kind: .flag,
                abstract: "Send ensure=true (goim passes it on with the room message)."),
        ] + logicClientOptions)

    static let serverDelete = CommandSpec(
        name: "server-del",
        abstract: "Remove every session of one comet server from the routers.",
        discussion: "Calls POST /1/server/del?server=ID; for clean-up after a comet died.",
        options: [
            OptionSpec(
                long: "server", valueName: "id", kind: .value(.integer),
                abstract: "The comet server id.", isRequired: true)
        ] + logicClientOptions)

    static let count = CommandSpec(
        name: "count",
        abstract: "Show online session counts per room or per comet server.",
        discussion: "Calls GET /1/count?type=room|server and prints a table.",
        arguments: [
            ArgumentSpec(
                name: "type", abstract: "What to count by: room or server.",
                kind: .choice(["room", "server"]))
        ],
        options: logicClientOptions)

    static let client = CommandSpec(
        name: "client",
        abstract: "Act as a goim client.",
        subcommands: [clientConnect, clientSimulate])

    static let clientConnect = CommandSpec(
        name: "connect",
        abstract: "Connect as one goim client and print the pushes it receives.",
        discussion: """
            Authenticates with the token (op 7), then sends a heartbeat (op 2) every \
            --heartbeat and prints the body of every push (op 5) as one line: the bytes as \
            UTF-8, with line breaks inside a body written as \\n and \\r. With --json each \
            push is a line {"op":5,"ver":0,"seq":0,"body":"TEXT"}, or "body_base64":"..." \
            instead of "body" when the bytes are not UTF-8. Stops on Ctrl-C (exit 0) or when \
            the server closes the connection (exit 1).

            With --ws the client speaks WebSocket: goim's JSON messages by default (the token \
            is sent as raw JSON, so 1001 and {"mid":1003,"room":7} work as on TCP, and a push \
            body is printed as the JSON text the server sent), or TCP frames in binary \
            messages with --binary. A wss:// URL adds TLS: the server's certificate must \
            chain to --tls-ca (or to the system's trusted CAs) and name the URL's host.
            """,
        options: [
            OptionSpec(
                long: "token", valueName: "token", kind: .value(.string),
                abstract: "The auth token: a user id, or {\"mid\":UID,\"room\":RID}.",
                isRequired: true),
            OptionSpec(
                long: "tcp", valueName: "host:port", kind: .value(.address),
                abstract: "Comet's TCP address.", defaultValue: "127.0.0.1:8080"),
            OptionSpec(
                long: "ws", valueName: "url", kind: .value(.url),
                abstract: "Comet's WebSocket URL instead of --tcp: ws:// or wss://HOST:PORT/sub."),
            OptionSpec(
                long: "tls-ca", valueName: "file", kind: .value(.file),
                abstract: "With a wss:// --ws, the CA file that verifies the server."),
            OptionSpec(
                long: "binary", kind: .flag,
                abstract: "With --ws, speak binary frames instead of goim's JSON messages."),
            OptionSpec(
                long: "heartbeat", valueName: "duration", kind: .value(.duration),
                abstract: "Interval between heartbeats.", defaultValue: "30s"),
            OptionSpec(
                long: "json", kind: .flag, abstract: "Print each push as a JSON line."),
        ])

    static let help = CommandSpec(
        name: "help",
        abstract: "Show help for a command.",
        arguments: [
            ArgumentSpec(
                name: "command", abstract: "The command, with its subcommand words.",
                kind: .commandPath, isOptional: true, isRepeating: true)
        ])

    static let version = CommandSpec(name: "version", abstract: "Show the version.")

    static let repl = CommandSpec(
        name: "repl",
        abstract: "Read commands interactively, or line by line from standard input.",
        discussion: """
            Each line is a command as it would follow 'imctl' on a shell command line, with \
            the shell's quoting: single quotes, double quotes with backslash escapes, and a \
            backslash outside quotes. 'help' lists the commands and 'help CMD' shows one; \
            'quit', 'exit' or Ctrl-D leaves. 'serve' is refused (run it from a shell), and a \
            message cannot be read from standard input ('-'): give it on the line.

            On a terminal the prompt names the logic the commands go to, Tab completes \
            commands and options, Ctrl-R searches the history, and Ctrl-C discards the line \
            being typed or stops a running 'client connect'. Lines starting with a space, and \
            lines containing --token, are not recorded in the history.

            When standard input or output is not a terminal there is no prompt: each line \
            runs in turn, a line starting with # is a comment, and a failed line does not \
            stop the ones after it. The exit status is then 1 if any line failed, else 0.
            """,
        options: [
            OptionSpec(
                long: "logic", valueName: "url", kind: .value(.url),
                abstract: "Logic's HTTP address for the commands (a line's --logic wins).",
                defaultValue: logicOption.defaultValue, environment: logicOption.environment)
        ],
        environment: [
            Note(
                "IMCTL_HISTFILE",
                "The history file, instead of the default; /dev/null keeps no history."),
            Note("XDG_STATE_HOME", "When set, the history is $XDG_STATE_HOME/imctl/history."),
            Note("HOME", "When XDG_STATE_HOME is not set, the history is ~/.imctl_history."),
        ],
        files: [
            Note(
                "$XDG_STATE_HOME/imctl/history",
                "The REPL's history (the directory is created; the file has mode 0600)."),
            Note("~/.imctl_history", "The REPL's history when XDG_STATE_HOME is not set."),
        ],
        exitStatuses: [
            Note("130", "Reading from a pipe or file was interrupted by Ctrl-C (SIGINT).")
        ],
        seeAlso: ["editrc(5)"])

    static let generate = CommandSpec(
        name: "generate",
        abstract: "Write the man pages or a shell completion script (maintenance).",
        discussion: "Both are rendered from the command tree, like --help.",
        subcommands: [generateMan, generateCompletion],
        isHidden: true)

    static let outputDirectoryOption = OptionSpec(
        long: "output", valueName: "dir", kind: .value(.file),
        abstract: "Write the files into this directory (created if missing) instead of "
            + "printing.")

    static let generateMan = CommandSpec(
        name: "man",
        abstract: "Print one man page, or write all of them with --output.",
        arguments: [
            ArgumentSpec(
                name: "command", abstract: "The top-level command whose page to print.",
                kind: .commandPath, isOptional: true)
        ],
        options: [outputDirectoryOption])

    static let generateCompletion = CommandSpec(
        name: "completion",
        abstract: "Print the completion script for a shell, or write it with --output.",
        arguments: [
            ArgumentSpec(
                name: "shell", abstract: "The shell.", kind: .choice(["bash", "zsh", "fish"]))
        ],
        options: [outputDirectoryOption])
}
