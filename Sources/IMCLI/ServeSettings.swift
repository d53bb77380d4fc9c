import IMCore
import IMNet
import IMQueue

/// A `serve` command's configuration: each config key of the command's options resolves from
/// flag > `IMCTL_*` environment > `--config` file > default (`SettingLayers`), and
/// `--print-config` prints the result in the config-file syntax. `serve all` and each role
/// conform; the grammar (names, defaults, environment variables) stays in `CommandTree`.
protocol ServeSettings: Sendable {
    /// The command whose options name the keys and hold the defaults (`["serve", "all"]`).
    static var commandPath: [String] { get }
    /// How each config key reads into and prints from the configuration.
    static var settings: [ServeSetting<Self>] { get }
    /// Placeholder values, overwritten by the defaults.
    init(unset: Void)
    /// Checks between settings once all are read (a TLS listener needs its files).
    func validate(path: [String]) throws(UsageError)
}

/// How one config key reads into and prints from a configuration.
struct ServeSetting<Configuration>: Sendable {
    let key: String
    /// Stores the value; returns "" on success, else what is wrong with it.
    let apply: @Sendable (inout Configuration, String) -> String
    /// The value in config-file syntax; nil for an optional setting that is unset.
    let render: @Sendable (Configuration) -> String?
}

extension ServeSettings {
    func validate(path: [String]) throws(UsageError) {}

    /// The command's options (the tree is static data: a missing command is a programming
    /// error caught by every test).
    static var options: [OptionSpec] {
        guard let command = CommandTree.command(at: commandPath) else {
            preconditionFailure("no command \(commandPath) in the tree")
        }
        return command.options
    }

    /// The configuration with every default of the command's options applied.
    static func withDefaults() -> Self {
        var configuration = Self(unset: ())
        let options = self.options
        for setting in settings {
            let option = options.first { $0.long == setting.key }
            // Optional settings (TLS listeners, --rpc-advertise) have no default: off when unset.
            if option?.isOptionalSetting == true { continue }
            let problem = option?.defaultValue.map { setting.apply(&configuration, $0) }
                ?? "no default"
            precondition(problem.isEmpty, "\(commandPath) default for '\(setting.key)': \(problem)")
        }
        return configuration
    }

    /// Resolves the settings for a parsed command line and an environment.
    ///
    /// - Throws: `UsageError` for an unreadable or invalid config file (`file:line`), or a
    ///   value out of range, naming where it came from.
    static func resolve(_ command: ParsedCommand, environment: [String: String])
        throws(UsageError) -> Self
    {
        let file = try loadConfigFile(command, environment: environment)
        let layers = SettingLayers(command: command, environment: environment, file: file)

        var configuration = Self(unset: ())
        for setting in settings {
            guard let option = command.spec.option(long: setting.key),
                let resolved = try layers.resolve(option)
            else { continue }

            let problem = setting.apply(&configuration, resolved.text)
            if !problem.isEmpty { throw layers.invalid(resolved, option: option, problem: problem) }
        }
        try configuration.validate(path: command.path)
        return configuration
    }

    private static func loadConfigFile(_ command: ParsedCommand, environment: [String: String])
        throws(UsageError) -> ConfigFile?
    {
        let layers = SettingLayers(command: command, environment: environment, file: nil)
        guard let option = command.spec.option(long: "config"),
            let path = try layers.resolve(option)?.text
        else { return nil }

        do {
            return try ConfigFile.load(path: path, options: command.spec.options)
        } catch {
            throw UsageError(error.message, path: command.path)
        }
    }

    /// The configuration in the config-file syntax, one `key = value` per line in the order
    /// of the command's options, so it can be saved and passed back with `--config`.
    var configFileText: String {
        let settings = Self.settings
        let lines = Self.options.compactMap { option -> String? in
            guard let setting = settings.first(where: { $0.key == option.long }),
                let value = setting.render(self)
            else { return nil }
            return "\(setting.key) = \(value)"
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

// MARK: - Settings by kind of value

extension ServeSetting {
    typealias Field<Value> = WritableKeyPath<Configuration, Value> & Sendable

    static func address(_ key: String, _ field: Field<SocketAddress>) -> Self {
        Self(
            key: key,
            apply: { configuration, text in
                do throws(SocketAddressError) {
                    configuration[keyPath: field] = try SocketAddress(parsing: text)
                    return ""
                } catch {
                    return error.reason
                }
            },
            render: { ConfigFile.quoted($0[keyPath: field].description) })
    }

    static func optionalAddress(_ key: String, _ field: Field<SocketAddress?>) -> Self {
        Self(
            key: key,
            apply: { configuration, text in
                do throws(SocketAddressError) {
                    configuration[keyPath: field] = try SocketAddress(parsing: text)
                    return ""
                } catch {
                    return error.reason
                }
            },
            render: { $0[keyPath: field].map { ConfigFile.quoted($0.description) } })
    }

    static func file(_ key: String, _ field: Field<String?>) -> Self {
        Self(
            key: key,
            apply: { configuration, text in
                guard !text.isEmpty else { return "must be a file path" }
                configuration[keyPath: field] = text
                return ""
            },
            render: { $0[keyPath: field].map(ConfigFile.quoted) })
    }

    static func integer(_ key: String, _ field: Field<Int>, _ range: ClosedRange<Int>) -> Self {
        Self(
            key: key,
            apply: { configuration, text in
                guard let value = Int(text), range.contains(value) else {
                    return "must be between \(range.lowerBound) and \(range.upperBound)"
                }
                configuration[keyPath: field] = value
                return ""
            },
            render: { "\($0[keyPath: field])" })
    }

    static func serverID(_ key: String, _ field: Field<Int32>) -> Self {
        Self(
            key: key,
            apply: { configuration, text in
                guard let value = Int32(text), value >= 1 else {
                    return "must be between 1 and \(Int32.max)"
                }
                configuration[keyPath: field] = value
                return ""
            },
            render: { "\($0[keyPath: field])" })
    }

    static func size(_ key: String, _ field: Field<Int>, _ range: ClosedRange<Int>) -> Self {
        Self(
            key: key,
            apply: { configuration, text in
                guard let value = ByteSize.parse(text), range.contains(value) else {
                    let low = ByteSize.format(range.lowerBound)
                    return "must be a size between \(low) and \(ByteSize.format(range.upperBound))"
                }
                configuration[keyPath: field] = value
                return ""
            },
            render: { ByteSize.format($0[keyPath: field]) })
    }

    static func duration(_ key: String, _ field: Field<Duration>) -> Self {
        Self(
            key: key,
            apply: { configuration, text in
                guard let value = Duration(parsing: text), value > .zero else {
                    return "must be a duration above zero, such as 500ms, 5s or 1m30s"
                }
                configuration[keyPath: field] = value
                return ""
            },
            render: { $0[keyPath: field].shortDescription })
    }

    static func logLevel(_ field: Field<Logger.Level>) -> Self {
        Self(
            key: "log-level",
            apply: { configuration, text in
                guard let level = Logger.Level(name: text) else { return "unknown log level" }
                configuration[keyPath: field] = level
                return ""
            },
            render: { "\($0[keyPath: field])" })
    }

    /// A `--queue` URL. `allowsMemory` is false for the separate roles: the memory queue
    /// joins logic and job only inside one process.
    static func queue(_ key: String, _ field: Field<QueueSetting>, allowsMemory: Bool) -> Self {
        Self(
            key: key,
            apply: { configuration, text in
                let url: QueueURL
                do throws(QueueURLError) {
                    url = try QueueURL(parsing: text)
                } catch {
                    return error.description
                }
                if case .memory = url, !allowsMemory {
                    return "the memory queue works only inside 'imctl serve all'; "
                        + "give \(KafkaURLError.usage)"
                }
                configuration[keyPath: field] = QueueSetting(url: url, text: text)
                return ""
            },
            render: { ConfigFile.quoted($0[keyPath: field].text) })
    }
}

/// A `--queue` value: the parsed URL, and the text as given. `--print-config` prints the text,
/// because the URL's description masks secrets and would not read back the same.
public struct QueueSetting: Sendable, Equatable {
    public var url: QueueURL
    public var text: String

    public init(url: QueueURL, text: String) {
        self.url = url
        self.text = text
    }
}
