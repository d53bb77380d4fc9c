import IMCore
import IMNet
import IMQueue

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
    /// Room messages job holds per room before dropping new ones. Default 80 (goim's).
    public var roomQueue: Int
    /// Where logic publishes and job consumes: `memory` (the default) or a `kafka://` URL.
    public var queue: QueueSetting
    /// Dispatch messages the memory queue holds before logic answers 503. Default 65536.
    public var queueCapacity: Int
    /// Lowest level logged. Default info.
    public var logLevel: Logger.Level

    /// The defaults listed in the command tree.
    public init() {
        self = ServeConfiguration.defaults
    }

    init(unset: Void) {
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
        roomQueue = 0
        queue = QueueSetting(url: .memory, text: "memory")
        queueCapacity = 0
        logLevel = .info
    }

    private static let defaults = withDefaults()
}

// MARK: - Settings

extension ServeConfiguration: ServeSettings, CometListenerSettings, ProcessSettings {
    static let commandPath = ["serve", "all"]

    static let settings: [ServeSetting<ServeConfiguration>] =
        cometListenerSettings + processSettings + [
            .address("http", \.httpAddress),
            .size("http-max-body", \.httpMaxBody, 1...(1 << 30)),
            .integer("room-batch", \.roomBatch, 1...100_000),
            .duration("room-window", \.roomWindow),
            .integer("room-queue", \.roomQueue, 1...1_000_000),
            .queue("queue", \.queue, allowsMemory: true),
            .integer("queue-capacity", \.queueCapacity, 1...100_000_000),
        ]

    func validate(path: [String]) throws(UsageError) {
        try checkTLSFiles(path: path)
    }
}
