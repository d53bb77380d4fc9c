import IMCore
import IMNet

/// Everything `imctl serve all` needs, resolved from flag > `IMCTL_*` environment >
/// `--config` file > default. The defaults are the ones `CommandTree` lists for `serve all`
/// (goim v1.2's ports).
public struct ServeConfiguration: Sendable, Equatable {
    /// Listener for goim TCP clients. Default `0.0.0.0:8080`; port 0 picks a free port.
    public var tcpAddress: SocketAddress
    /// Listener for WebSocket clients (`/sub`). Default `0.0.0.0:8090`.
    public var webSocketAddress: SocketAddress
    /// Listener for goim TCP clients over TLS. Off (nil) unless given; needs the TLS files.
    public var tcpTLSAddress: SocketAddress?
    /// Listener for WebSocket clients over TLS (wss, path `/sub`). Off (nil) unless given;
    /// needs the TLS files.
    public var webSocketTLSAddress: SocketAddress?
    /// PEM certificate chain (leaf first) of the TLS listeners. Required with either of them.
    public var tlsCertificateFile: String?
    /// PEM private key (unencrypted) of the TLS listeners. Required with either of them.
    public var tlsKeyFile: String?
    /// Listener for logic's HTTP push API. Default `0.0.0.0:7172`.
    public var httpAddress: SocketAddress
    /// This comet's server id, 1 or more. Default 1.
    public var serverID: Int32
    /// Event-loop threads; 0 (the default) means one per core.
    public var loopCount: Int
    /// Time a new connection has to send its auth frame. Default 5 s.
    public var handshakeTimeout: Duration
    /// Time an authenticated connection may go without a heartbeat. Default 5 min.
    public var heartbeatTimeout: Duration
    /// Largest frame body a client may send, in bytes. Default 4 KiB.
    public var maxFrameBody: Int
    /// Bytes queued for one client before it is disconnected as too slow. Default 1 MiB.
    public var outboundLimit: Int
    /// Time queued bytes may wait for a client before it is disconnected. Default 10 s.
    public var writeTimeout: Duration
    /// Largest HTTP request body logic accepts (413 past it). Default 1 MiB.
    public var httpMaxBody: Int
    /// Room messages job puts in one batch. Default 40.
    public var roomBatch: Int
    /// How long job coalesces room messages after sending one. Default 1 s.
    public var roomWindow: Duration
    /// Dispatch messages the memory queue holds before logic answers 503. Default 65536.
    public var queueCapacity: Int
    /// Lowest level logged. Default info.
    public var logLevel: Logger.Level

    /// The defaults listed in the command tree.
    public init() {
        self = ServeConfiguration.defaults
    }

    private init(unset: Void) {
        tcpAddress = SocketAddress(host: "", port: 0)
        webSocketAddress = tcpAddress
        httpAddress = tcpAddress
        serverID = 0
        loopCount = 0
        handshakeTimeout = .zero
        heartbeatTimeout = .zero
        maxFrameBody = 0
        outboundLimit = 0
        writeTimeout = .zero
        httpMaxBody = 0
        roomBatch = 0
        roomWindow = .zero
        queueCapacity = 0
        logLevel = .info
    }

    private static let defaults: ServeConfiguration = {
        var configuration = ServeConfiguration(unset: ())
        for setting in settings {
            let option = CommandTree.serveAllOptions.first { $0.long == setting.key }
            // Optional settings (the TLS listeners and files) have no default: off when unset.
            if option?.isOptionalSetting == true { continue }
            let problem = option?.defaultValue.map { setting.apply(&configuration, $0) }
                ?? "no default"
            precondition(problem.isEmpty, "serve all default for '\(setting.key)': \(problem)")
        }
        return configuration
    }()
}

// MARK: - Settings: one entry per config key, in the tree's order

extension ServeConfiguration {
    /// How one config key reads into and prints from the configuration.
    struct Setting: Sendable {
        let key: String
        /// Stores the value; returns "" on success, else what is wrong with it.
        let apply: @Sendable (inout ServeConfiguration, String) -> String
        /// The value in config-file syntax; nil for an optional setting that is unset.
        let render: @Sendable (ServeConfiguration) -> String?
    }

    static let settings: [Setting] = [
        address("tcp", \.tcpAddress),
        address("ws", \.webSocketAddress),
        optionalAddress("tcp-tls", \.tcpTLSAddress),
        optionalAddress("wss", \.webSocketTLSAddress),
        file("tls-cert", \.tlsCertificateFile),
        file("tls-key", \.tlsKeyFile),
        address("http", \.httpAddress),
        Setting(
            key: "server-id",
            apply: { configuration, text in
                guard let value = Int32(text), value >= 1 else {
                    return "must be between 1 and \(Int32.max)"
                }
                configuration.serverID = value
                return ""
            },
            render: { "\($0.serverID)" }),
        integer("loops", \.loopCount, 0...1024),
        duration("handshake-timeout", \.handshakeTimeout),
        duration("heartbeat-timeout", \.heartbeatTimeout),
        size("max-frame-body", \.maxFrameBody, 1...(64 << 20)),
        size("outbound-limit", \.outboundLimit, 1...(1 << 30)),
        duration("write-timeout", \.writeTimeout),
        size("http-max-body", \.httpMaxBody, 1...(1 << 30)),
        integer("room-batch", \.roomBatch, 1...100_000),
        duration("room-window", \.roomWindow),
        integer("queue-capacity", \.queueCapacity, 1...100_000_000),
        Setting(
            key: "log-level",
            apply: { configuration, text in
                guard let level = Logger.Level(name: text) else { return "unknown log level" }
                configuration.logLevel = level
                return ""
            },
            render: { "\($0.logLevel)" }),
    ]

    private typealias Field<Value> = WritableKeyPath<ServeConfiguration, Value> & Sendable

    private static func address(_ key: String, _ field: Field<SocketAddress>) -> Setting {
        Setting(
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

    private static func optionalAddress(_ key: String, _ field: Field<SocketAddress?>)
        -> Setting
    {
        Setting(
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

    private static func file(_ key: String, _ field: Field<String?>) -> Setting {
        Setting(
            key: key,
            apply: { configuration, text in
                guard !text.isEmpty else { return "must be a file path" }
                configuration[keyPath: field] = text
                return ""
            },
            render: { $0[keyPath: field].map(ConfigFile.quoted) })
    }

    private static func integer(_ key: String, _ field: Field<Int>, _ range: ClosedRange<Int>)
        -> Setting
    {
        Setting(
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

    private static func size(_ key: String, _ field: Field<Int>, _ range: ClosedRange<Int>)
        -> Setting
    {
        Setting(
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

    private static func duration(_ key: String, _ field: Field<Duration>) -> Setting {
        Setting(
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
}

// MARK: - Resolving and printing

extension ServeConfiguration {
    /// Resolves `serve all`'s settings for a parsed command line and an environment.
    ///
    /// - Throws: `UsageError` for an unreadable or invalid config file (`file:line`), or a
    ///   value out of range, naming where it came from.
    static func resolve(_ command: ParsedCommand, environment: [String: String])
        throws(UsageError) -> ServeConfiguration
    {
        let file = try loadConfigFile(command, environment: environment)
        let layers = SettingLayers(command: command, environment: environment, file: file)

        var configuration = ServeConfiguration()
        for setting in settings {
            guard let option = command.spec.option(long: setting.key),
                let resolved = try layers.resolve(option)
            else { continue }

            let problem = setting.apply(&configuration, resolved.text)
            if !problem.isEmpty { throw layers.invalid(resolved, option: option, problem: problem) }
        }
        try configuration.checkTLSFiles(path: command.path)
        return configuration
    }

    /// Whether any TLS listener is configured (then the TLS files are required).
    public var servesTLS: Bool { tcpTLSAddress != nil || webSocketTLSAddress != nil }

    /// A TLS listener without both files is a usage error naming the missing option.
    private func checkTLSFiles(path: [String]) throws(UsageError) {
        guard servesTLS else { return }

        let listener = tcpTLSAddress != nil ? "--tcp-tls" : "--wss"
        for (file, option) in [(tlsCertificateFile, "--tls-cert"), (tlsKeyFile, "--tls-key")]
        where file == nil {
            throw UsageError("option '\(option)' is required with '\(listener)'", path: path)
        }
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
    /// of the command tree, so it can be saved and passed back with `--config`.
    public var configFileText: String {
        let lines = ServeConfiguration.settings.compactMap { setting in
            setting.render(self).map { "\(setting.key) = \($0)" }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
