import IMComet
import IMCore
import IMNet

/// Settings every serving process has: its event loops and its log level.
protocol ProcessSettings: ServeSettings {
    /// Event-loop threads; 0 means one per core.
    var loopCount: Int { get set }
    /// Lowest level logged.
    var logLevel: Logger.Level { get set }
}

extension ProcessSettings {
    static var processSettings: [ServeSetting<Self>] {
        [.integer("loops", \.loopCount, 0...1024), .logLevel(\.logLevel)]
    }

    /// The loop count to start: `loopCount`, or one per core for 0.
    var effectiveLoopCount: Int { loopCount == 0 ? System.coreCount : loopCount }
}

/// Settings of a process that serves comet's clients (`serve all`, `serve comet`).
protocol CometListenerSettings: ServeSettings {
    var tcpAddress: SocketAddress { get set }
    var webSocketAddress: SocketAddress { get set }
    var tcpTLSAddress: SocketAddress? { get set }
    var webSocketTLSAddress: SocketAddress? { get set }
    var tlsCertificateFile: String? { get set }
    var tlsKeyFile: String? { get set }
    var serverID: Int32 { get set }
    var handshakeTimeout: Duration { get set }
    var heartbeatTimeout: Duration { get set }
    var maxFrameBody: Int { get set }
    var outboundLimit: Int { get set }
    var writeTimeout: Duration { get set }
}

extension CometListenerSettings {
    static var cometListenerSettings: [ServeSetting<Self>] {
        [
            .address("tcp", \.tcpAddress),
            .address("ws", \.webSocketAddress),
            .optionalAddress("tcp-tls", \.tcpTLSAddress),
            .optionalAddress("wss", \.webSocketTLSAddress),
            .file("tls-cert", \.tlsCertificateFile),
            .file("tls-key", \.tlsKeyFile),
            .serverID("server-id", \.serverID),
            .duration("handshake-timeout", \.handshakeTimeout),
            .duration("heartbeat-timeout", \.heartbeatTimeout),
            .size("max-frame-body", \.maxFrameBody, 1...(64 << 20)),
            .size("outbound-limit", \.outboundLimit, 1...(1 << 30)),
            .duration("write-timeout", \.writeTimeout),
        ]
    }

    /// Whether any TLS listener is configured (then the TLS files are required).
    var servesTLS: Bool { tcpTLSAddress != nil || webSocketTLSAddress != nil }

    /// A TLS listener without both files is a usage error naming the missing option.
    func checkTLSFiles(path: [String]) throws(UsageError) {
        guard servesTLS else { return }

        let listener = tcpTLSAddress != nil ? "--tcp-tls" : "--wss"
        for (file, option) in [(tlsCertificateFile, "--tls-cert"), (tlsKeyFile, "--tls-key")]
        where file == nil {
            throw UsageError("option '\(option)' is required with '\(listener)'", path: path)
        }
    }

    var comet: CometConfiguration {
        CometConfiguration().with {
            $0.serverID = serverID
            $0.handshakeTimeout = handshakeTimeout
            $0.heartbeatTimeout = heartbeatTimeout
            $0.maxBodySize = maxFrameBody
            $0.outboundLimit = outboundLimit
            $0.writeTimeout = writeTimeout
        }
    }

    /// Opens the TCP and WebSocket listeners, then the optional TLS ones, which share one
    /// context built from the files now: a missing file or bad PEM fails the start with
    /// `TLSError`, whose message names the file.
    func listenForClients(on comet: Comet) throws {
        try comet.listenTCP(host: tcpAddress.host, port: tcpAddress.port)
        try comet.listenWebSocket(host: webSocketAddress.host, port: webSocketAddress.port)

        guard servesTLS, let certificate = tlsCertificateFile, let key = tlsKeyFile else { return }
        let context = try TLSContext(certificateChainFile: certificate, privateKeyFile: key)
        if let address = tcpTLSAddress {
            try comet.listenTCP(host: address.host, port: address.port, tls: context)
        }
        if let address = webSocketTLSAddress {
            try comet.listenWebSocket(host: address.host, port: address.port, tls: context)
        }
    }
}
