import IMCore
import IMNet
import IMQueue

/// `imctl serve router`'s settings (defaults in `CommandTree.serveRouter`).
public struct RouterServeConfiguration: Sendable, Equatable, ProcessSettings {
    /// Listener for logic's calls. Default `127.0.0.1:7270`.
    public var rpcAddress: SocketAddress
    /// Listener for /metrics and /healthz; off (nil) unless given.
    public var metricsAddress: SocketAddress?
    public var loopCount: Int
    public var logLevel: Logger.Level

    public init() { self = Self.defaults }

    init(unset: Void) {
        rpcAddress = SocketAddress(host: "", port: 0)
        loopCount = 0
        logLevel = .info
    }

    private static let defaults = withDefaults()
    static let commandPath = ["serve", "router"]
    static let settings: [ServeSetting<Self>] =
        [.address("rpc", \.rpcAddress), .optionalAddress("metrics", \.metricsAddress)]
        + processSettings
}

/// One `--router NAME=HOST:PORT`.
public struct RouterEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// The ketama name: every logic must use the same names for the same routers.
    public var name: String
    public var address: SocketAddress

    public var description: String { "\(name)=\(address)" }

    /// Parses `NAME=HOST:PORT`; the name may not contain `,`, `=` or white space.
    static func parse(_ text: some StringProtocol) -> Result<RouterEndpoint, RouterListError> {
        let item = text.trimmingCharacters(in: .whitespaces)
        guard let equals = item.firstIndex(of: "=") else { return .failure(.syntax(item)) }
        let name = String(item[..<equals])
        guard !name.isEmpty, !name.contains(where: \.isWhitespace) else {
            return .failure(.syntax(item))
        }
        do throws(SocketAddressError) {
            let address = try SocketAddress(parsing: String(item[item.index(after: equals)...]))
            return .success(RouterEndpoint(name: name, address: address))
        } catch {
            return .failure(.address(item, error.reason))
        }
    }

    /// Parses a comma-separated list (what repeated `--router` flags become).
    static func parseList(_ text: String) -> Result<[RouterEndpoint], RouterListError> {
        var endpoints: [RouterEndpoint] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            switch parse(item) {
            case .failure(let error): return .failure(error)
            case .success(let endpoint):
                if endpoints.contains(where: { $0.name == endpoint.name }) {
                    return .failure(.duplicateName(endpoint.name))
                }
                endpoints.append(endpoint)
            }
        }
        return .success(endpoints)
    }
}

/// Why a `--router` list was refused.
enum RouterListError: Error, CustomStringConvertible {
    case syntax(String)
    case address(String, String)
    case duplicateName(String)

    var description: String {
        switch self {
        case .syntax(let item):
            "'\(item)' is not NAME=HOST:PORT"
        case .address(let item, let reason):
            "'\(item)': \(reason)"
        case .duplicateName(let name):
            "router name '\(name)' is given twice (ketama needs distinct names)"
        }
    }
}

/// `imctl serve logic`'s settings (defaults in `CommandTree.serveLogic`).
public struct LogicServeConfiguration: Sendable, Equatable, ProcessSettings {
    /// Listener for the HTTP push API. Default `0.0.0.0:7172`.
    public var httpAddress: SocketAddress
    /// Listener for comets and job. Default `127.0.0.1:7170`.
    public var rpcAddress: SocketAddress
    /// The routers, in the order given; the names place users by ketama.
    public var routers: [RouterEndpoint]
    /// The Kafka topic logic publishes to (never the memory queue).
    public var queue: QueueSetting
    /// The longest a push waits for the broker; then HTTP 503. Default 10 s.
    public var publishTimeout: Duration
    /// A comet silent for this long is dropped. Default 15 s.
    public var cometExpiry: Duration
    /// Largest HTTP request body (413 past it). Default 1 MiB.
    public var httpMaxBody: Int
    public var loopCount: Int
    public var logLevel: Logger.Level

    public init() { self = Self.defaults }

    init(unset: Void) {
        httpAddress = SocketAddress(host: "", port: 0)
        rpcAddress = httpAddress
        routers = []
        queue = QueueSetting(url: .memory, text: "memory")
        publishTimeout = .zero
        cometExpiry = .zero
        httpMaxBody = 0
        loopCount = 0
        logLevel = .info
    }

    private static let defaults = withDefaults()
    static let commandPath = ["serve", "logic"]
    static let settings: [ServeSetting<Self>] = [
        .address("http", \.httpAddress),
        .address("rpc", \.rpcAddress),
        ServeSetting(
            key: "router",
            apply: { configuration, text in
                switch RouterEndpoint.parseList(text) {
                case .success(let routers):
                    configuration.routers = routers
                    return ""
                case .failure(let error):
                    return error.description
                }
            },
            render: { ConfigFile.quoted($0.routers.map(\.description).joined(separator: ",")) }),
        .queue("queue", \.queue, allowsMemory: false),
        .duration("publish-timeout", \.publishTimeout),
        .duration("comet-expiry", \.cometExpiry),
        .size("http-max-body", \.httpMaxBody, 1...(1 << 30)),
    ] + processSettings
}

/// `imctl serve job`'s settings (defaults in `CommandTree.serveJob`).
public struct JobServeConfiguration: Sendable, Equatable, ProcessSettings {
    /// The Kafka topic job consumes (never the memory queue).
    public var queue: QueueSetting
    /// Where logic's RPC is, to learn the comets. Default `127.0.0.1:7170`.
    public var logicRPCAddress: SocketAddress
    public var roomBatch: Int
    public var roomWindow: Duration
    public var roomQueue: Int
    /// Listener for /metrics and /healthz; off (nil) unless given.
    public var metricsAddress: SocketAddress?
    public var loopCount: Int
    public var logLevel: Logger.Level

    public init() { self = Self.defaults }

    init(unset: Void) {
        queue = QueueSetting(url: .memory, text: "memory")
        logicRPCAddress = SocketAddress(host: "", port: 0)
        roomBatch = 0
        roomWindow = .zero
        roomQueue = 0
        loopCount = 0
        logLevel = .info
    }

    private static let defaults = withDefaults()
    static let commandPath = ["serve", "job"]
    static let settings: [ServeSetting<Self>] = [
        .queue("queue", \.queue, allowsMemory: false),
        .address("logic-rpc", \.logicRPCAddress),
        .integer("room-batch", \.roomBatch, 1...100_000),
        .duration("room-window", \.roomWindow),
        .integer("room-queue", \.roomQueue, 1...1_000_000),
        .optionalAddress("metrics", \.metricsAddress),
    ] + processSettings
}

/// `imctl serve comet`'s settings (defaults in `CommandTree.serveComet`).
public struct CometServeConfiguration: Sendable, Equatable, ProcessSettings,
    CometListenerSettings
{
    public var serverID: Int32
    public var tcpAddress: SocketAddress
    public var webSocketAddress: SocketAddress
    public var tcpTLSAddress: SocketAddress?
    public var webSocketTLSAddress: SocketAddress?
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?
    /// Listener for job's push calls. Default `127.0.0.1:8092`.
    public var rpcAddress: SocketAddress
    /// The address registered with logic for job to dial; nil: derived from the bound one.
    public var rpcAdvertiseAddress: SocketAddress?
    /// Where logic's RPC is. Default `127.0.0.1:7170`.
    public var logicRPCAddress: SocketAddress
    /// How often the registration is refreshed. Default 5 s.
    public var registerInterval: Duration
    public var handshakeTimeout: Duration
    public var heartbeatTimeout: Duration
    public var maxFrameBody: Int
    public var outboundLimit: Int
    public var writeTimeout: Duration
    /// Listener for /metrics and /healthz; off (nil) unless given.
    public var metricsAddress: SocketAddress?
    public var loopCount: Int
    public var logLevel: Logger.Level

    public init() { self = Self.defaults }

    init(unset: Void) {
        serverID = 0
        tcpAddress = SocketAddress(host: "", port: 0)
        webSocketAddress = tcpAddress
        rpcAddress = tcpAddress
        logicRPCAddress = tcpAddress
        registerInterval = .zero
        handshakeTimeout = .zero
        heartbeatTimeout = .zero
        maxFrameBody = 0
        outboundLimit = 0
        writeTimeout = .zero
        loopCount = 0
        logLevel = .info
    }

    private static let defaults = withDefaults()
    static let commandPath = ["serve", "comet"]
    static let settings: [ServeSetting<Self>] = cometListenerSettings + processSettings + [
        .address("rpc", \.rpcAddress),
        .optionalAddress("rpc-advertise", \.rpcAdvertiseAddress),
        .address("logic-rpc", \.logicRPCAddress),
        .duration("register-interval", \.registerInterval),
        .optionalAddress("metrics", \.metricsAddress),
    ]

    func validate(path: [String]) throws(UsageError) {
        try checkTLSFiles(path: path)
        if let advertised = rpcAdvertiseAddress, advertised.port == 0 || advertised.isWildcard {
            throw UsageError(
                "option '--rpc-advertise' needs an address job can dial, not \(advertised)",
                path: path)
        }
    }

    /// What job dials: `--rpc-advertise`, else the bound RPC address with a wildcard host
    /// replaced by the loopback address.
    func advertisedRPCAddress(bound: SocketAddress) -> SocketAddress {
        if let rpcAdvertiseAddress { return rpcAdvertiseAddress }
        guard bound.isWildcard else { return bound }
        return SocketAddress(host: "127.0.0.1", port: bound.port)
    }
}

extension SocketAddress {
    /// `0.0.0.0`, `::` or an empty host: every interface, which no client can dial.
    var isWildcard: Bool { ["", "0.0.0.0", "::", "[::]"].contains(host) }
}
