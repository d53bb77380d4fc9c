/// The grammar of one command: what `--help`, the man page, shell completions and the REPL
/// are rendered from, and what the parser accepts. Nothing about a command's grammar lives
/// outside these values (see `CommandTree`).
public struct CommandSpec: Sendable {
    /// The word that selects this command (`push`, `all` in `serve all`).
    public var name: String
    /// One sentence for the OVERVIEW line and the parent's SUBCOMMANDS list.
    public var abstract: String
    /// Paragraphs shown after the overview in `--help`; may be empty.
    public var discussion: String
    /// Positional arguments in order.
    public var arguments: [ArgumentSpec]
    /// Options, in the order help lists them (`--help` is added by `CommandTree`).
    public var options: [OptionSpec]
    /// Child commands; a command with children runs only through one of them.
    public var subcommands: [CommandSpec]
    /// Environment variables the command reads that are not an option's (`IMCTL_HISTFILE`),
    /// for the man page's ENVIRONMENT section.
    public var environment: [Note]
    /// Files the command reads or writes, for the man page's FILES section.
    public var files: [Note]
    /// Exit statuses besides 0, 1 and 64 (`130` for an interrupted script), for the man page.
    public var exitStatuses: [Note]
    /// Other manuals worth reading, as `name(section)` (`editrc(5)`).
    public var seeAlso: [String]
    /// A maintenance command: it runs, but help listings, man pages and completions leave it
    /// out.
    public var isHidden: Bool

    public init(
        name: String, abstract: String, discussion: String = "",
        arguments: [ArgumentSpec] = [], options: [OptionSpec] = [],
        subcommands: [CommandSpec] = [], environment: [Note] = [], files: [Note] = [],
        exitStatuses: [Note] = [], seeAlso: [String] = [], isHidden: Bool = false
    ) {
        self.name = name
        self.abstract = abstract
        self.discussion = discussion
        self.arguments = arguments
        self.options = options
        self.subcommands = subcommands
        self.environment = environment
        self.files = files
        self.exitStatuses = exitStatuses
        self.seeAlso = seeAlso
        self.isHidden = isHidden
    }

    /// The children that help, man pages and completions show.
    public var visibleSubcommands: [CommandSpec] {
        subcommands.filter { !$0.isHidden }
    }

    /// The child named `name`, if any.
    public func subcommand(named name: String) -> CommandSpec? {
        subcommands.first { $0.name == name }
    }

    /// The option whose long name is `long` (without the dashes).
    public func option(long: String) -> OptionSpec? {
        options.first { $0.long == long }
    }

    /// The option whose short name is `short`.
    public func option(short: Character) -> OptionSpec? {
        options.first { $0.short == short }
    }
}

/// A name (an environment variable, a path) and what it means to the command.
public struct Note: Sendable, Equatable {
    public var name: String
    public var abstract: String

    public init(_ name: String, _ abstract: String) {
        self.name = name
        self.abstract = abstract
    }
}

/// A positional argument.
public struct ArgumentSpec: Sendable {
    /// Shown as `<name>` in usage and help.
    public var name: String
    public var abstract: String
    /// What values are valid, and how the shells complete them.
    public var kind: ValueKind
    /// Whether it may be left out (`[<name>]`).
    public var isOptional: Bool
    /// Whether it takes every remaining positional (`<name> ...`).
    public var isRepeating: Bool

    public init(
        name: String, abstract: String, kind: ValueKind = .string,
        isOptional: Bool = false, isRepeating: Bool = false
    ) {
        self.name = name
        self.abstract = abstract
        self.kind = kind
        self.isOptional = isOptional
        self.isRepeating = isRepeating
    }
}

/// A named option: `--long`, `--long value`, `--long=value`, or `-s`.
public struct OptionSpec: Sendable {
    /// The name without dashes (`heartbeat-timeout`). Also the config-file key.
    public var long: String
    public var short: Character?
    /// Shown as `<valueName>` after a value option; unused for flags.
    public var valueName: String?
    public var kind: OptionKind
    public var abstract: String
    /// The value used when no layer sets one, as the user would type it.
    public var defaultValue: String?
    /// The environment variable read when the flag is absent (`IMCTL_TCP`).
    public var environment: String?
    /// Whether `--config FILE` may set it (the key is `long`).
    public var isConfigKey: Bool
    /// Whether the command is a usage error without it (no env or default applies).
    public var isRequired: Bool
    /// Whether the option may be given several times. The values are joined with commas, so
    /// the environment variable and the config key take the same comma-separated list.
    public var isRepeating: Bool

    public init(
        long: String, short: Character? = nil, valueName: String? = nil, kind: OptionKind,
        abstract: String, defaultValue: String? = nil, environment: String? = nil,
        isConfigKey: Bool = false, isRequired: Bool = false, isRepeating: Bool = false
    ) {
        self.long = long
        self.short = short
        self.valueName = valueName
        self.kind = kind
        self.abstract = abstract
        self.defaultValue = defaultValue
        self.environment = environment
        self.isConfigKey = isConfigKey
        self.isRequired = isRequired
        self.isRepeating = isRepeating
    }

    /// Whether the option takes a value (as opposed to a flag).
    public var takesValue: Bool {
        if case .value = kind { return true }
        return false
    }

    /// The kind of its value, nil for a flag.
    public var valueKind: ValueKind? {
        if case .value(let kind) = kind { return kind }
        return nil
    }

    /// `--tcp <host:port>` or `--json`: the option as usage lines show it.
    public var usageLabel: String {
        guard takesValue else { return "--\(long)" }
        return "--\(long) <\(valueName ?? "value")>"
    }

    /// `-h, --help` or `--tcp <host:port>`: the option as the OPTIONS section lists it.
    public var helpLabel: String {
        guard let short else { return usageLabel }
        return "-\(short), \(usageLabel)"
    }

    /// The environment variable name derived from a long option: `IMCTL_` + upper case, with
    /// dashes as underscores (`heartbeat-timeout` → `IMCTL_HEARTBEAT_TIMEOUT`).
    public static func environmentName(for long: String) -> String {
        "IMCTL_" + long.uppercased().replacingOccurrences(of: "-", with: "_")
    }
}

/// Whether an option is a flag or takes a value.
public enum OptionKind: Sendable, Equatable {
    case flag
    case value(ValueKind)
}

/// What a value may be. The parser checks values against it, and completions use it to
/// decide what to offer (files, fixed choices, nothing).
public enum ValueKind: Sendable, Equatable {
    case string
    /// A decimal integer, sign allowed.
    case integer
    /// A Go-style duration: `500ms`, `5s`, `1m30s`, `2h` (IMCore's `Duration(parsing:)`).
    case duration
    /// A byte size: `4096`, `4KiB`, `1MiB` (IMCore's `ByteSize`).
    case size
    /// `HOST:PORT` or `:PORT` (IMNet's `SocketAddress`).
    case address
    /// An absolute URL with a scheme and a host.
    case url
    /// A path on the local file system.
    case file
    /// One of a fixed list of words.
    case choice([String])
    /// Words naming a command of the tree (`help serve all`): completions offer the
    /// subcommands of the words given so far.
    case commandPath
}
