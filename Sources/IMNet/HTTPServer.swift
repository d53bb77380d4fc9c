import IMCore
import Synchronization

/// An HTTP/1.1 server on an event-loop group: keep-alive, pipelining (answers in request
/// order), Content-Length and chunked bodies, `Expect: 100-continue`, and limits on every part
/// of a request.
///
/// Each connection lives on the loop that accepted it. A complete request is answered on the
/// loop when the handler's `respondImmediately` can, otherwise it goes to the handler on a
/// `Task` and the response comes back to the loop. Either way it is written, header and body
/// in one buffer, once every earlier response on the connection has been written. Refused requests
/// get a status (400, 413, 414, 431, 505) and a `{"ret":65535,"msg":"..."}` body, then the
/// connection closes.
public final class HTTPServer: Sendable {
    /// Limits and timeouts. Every field has a working default.
    public struct Configuration: Sendable {
        /// Largest request body (declared or de-chunked); larger gets 413. Default 1 MiB.
        public var maxBodySize: Int
        /// Largest header section (names and values); larger gets 431. Default 16 KiB.
        public var maxHeaderSize: Int
        /// Most header fields per request; more gets 431. Default 100.
        public var maxHeaderCount: Int
        /// Longest request target; longer gets 414. Default 8 KiB.
        public var maxURLSize: Int
        /// A connection with nothing in flight is closed after this long without a complete
        /// request (so also a request trickling in slower than this). Default 60 s.
        public var idleTimeout: Duration
        /// Requests per connection handed to the handler and not yet answered; at the cap the
        /// connection stops reading until an answer goes out. Default 16, at least 1.
        public var maxInFlightPerConnection: Int
        /// Response bytes queued for a client that does not read them; past this the
        /// connection is closed. Reading stops at a quarter of it. Default 4 MiB.
        public var maxOutboundBytes: Int
        /// After the last response of a closing connection, how long to keep reading (and
        /// discarding) so the client gets the response rather than a reset. Default 2 s.
        public var lingerTimeout: Duration
        /// Where accepted sockets reserve a descriptor. Default `FileLimit.shared`.
        public var fileLimit: FileLimit
        /// The `proto` of the "listening" log line, which harnesses read the bound address
        /// from: `http` for the push API, `metrics` for a `MetricsServer`.
        public var listenerName = "http"

        public init(
            maxBodySize: Int = 1 << 20, maxHeaderSize: Int = 16 * 1024, maxHeaderCount: Int = 100,
            maxURLSize: Int = 8 * 1024, idleTimeout: Duration = .seconds(60),
            maxInFlightPerConnection: Int = 16, maxOutboundBytes: Int = 4 << 20,
            lingerTimeout: Duration = .seconds(2), fileLimit: FileLimit = .shared
        ) {
            self.maxBodySize = maxBodySize
            self.maxHeaderSize = maxHeaderSize
            self.maxHeaderCount = maxHeaderCount
            self.maxURLSize = maxURLSize
            self.idleTimeout = idleTimeout
            self.maxInFlightPerConnection = maxInFlightPerConnection
            self.maxOutboundBytes = maxOutboundBytes
            self.lingerTimeout = lingerTimeout
            self.fileLimit = fileLimit
        }

        /// A copy with `change` applied.
        public func with(_ change: (inout Configuration) -> Void) -> Configuration {
            var copy = self
            change(&copy)
            return copy
        }

        var parserLimits: HTTPRequestParser.Limits {
            HTTPRequestParser.Limits(
                maxBodySize: maxBodySize, maxHeaderSize: maxHeaderSize,
                maxHeaderCount: maxHeaderCount, maxURLSize: maxURLSize)
        }
    }

    /// What one server did, readable from any thread.
    public struct Metrics: Sendable {
        /// Requests handed to the handler.
        public let requests = Counter("imctl_http_requests_total", help: "HTTP requests handled")
        /// Requests refused with 4xx/5xx by the server itself (malformed, too large).
        public let refused = Counter(
            "imctl_http_refused_total", help: "HTTP requests refused before the handler")
        /// Connections closed because the client did not read its responses.
        public let slowReaders = Counter(
            "imctl_http_slow_reader_closes_total", help: "HTTP closes: responses not read")
        /// Connections closed by the idle timeout.
        public let idleCloses = Counter(
            "imctl_http_idle_closes_total", help: "HTTP connections closed: idle timeout")
        /// Connections open now.
        public let openConnections = Gauge("imctl_http_connections", help: "Open HTTP connections")

        /// Every metric, for a registry.
        public var all: [any Metric] {
            [requests, refused, slowReaders, idleCloses, openConnections]
        }
    }

    public let configuration: Configuration
    public let metrics = Metrics()
    let handler: any HTTPHandler
    let group: EventLoopGroup
    let registry = HTTPConnectionRegistry()
    private let lifecycle = Mutex(Lifecycle.idle)
    static let logger = Logger(label: "imnet.http")

    private enum Lifecycle {
        case idle
        case listening(BoundListener)
        case stopped
    }

    /// A server for `handler`; nothing is opened until `start`.
    public init(
        group: EventLoopGroup, configuration: Configuration = .init(), handler: any HTTPHandler
    ) {
        self.group = group
        self.configuration = configuration
        self.handler = handler
    }

    /// Listens on `host:port` (port 0: the kernel picks one) on every loop of the group and
    /// returns the bound address. The group must be started for connections to be served.
    /// Throws when the address cannot be bound, or when the server was started before.
    @discardableResult
    public func start(host: String, port: Int) throws -> SocketAddress {
        try lifecycle.withLock { lifecycle in
            guard case .idle = lifecycle else {
                throw HTTPServerError(message: "an HTTP server can be started only once")
            }
            // The listener holds the server until `stop()` drops the listener.
            let bound = try TCPServer.listen(
                group: group, host: host, port: port, fileLimit: configuration.fileLimit
            ) { [self] loop, fd, peer in
                accept(fd, peer: peer, on: loop)
            }
            lifecycle = .listening(bound)
            Self.logger.info(
                "HTTP server listening",
                ["address": "\(bound.address)", "proto": configuration.listenerName])
            return bound.address
        }
    }

    /// Stops accepting and closes every open connection (on their loops, asynchronously);
    /// handlers still running finish but their responses are dropped. Idempotent.
    public func stop() {
        let previous = lifecycle.withLock { lifecycle in
            defer { lifecycle = .stopped }
            return lifecycle
        }
        registry.closeAll()

        guard case .listening(let bound) = previous else { return }
        bound.close()
        Self.logger.info("HTTP server stopped", ["address": "\(bound.address)"])
    }

    private func accept(_ fd: Int32, peer: SocketAddress, on loop: EventLoop) {
        let connection = HTTPConnection(fd: fd, loop: loop, server: self)
        guard registry.insert(connection, on: loop) else {
            connection.closeUnregistered()
            return
        }

        do {
            try connection.start()
            Self.logger.trace("HTTP connection opened", ["peer": "\(peer)", "fd": "\(fd)"])
        } catch {
            Self.logger.debug("cannot watch HTTP connection", ["error": "\(error)"])
            connection.closeUnregistered()
        }
    }
}

/// A misuse of `HTTPServer` (started twice).
public struct HTTPServerError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The open connections of one server, so `stop()` can close them from any thread.
final class HTTPConnectionRegistry: Sendable {
    private struct State {
        var connections: [ObjectIdentifier: LoopConfined<HTTPConnection>] = [:]
        var isClosed = false
    }

    private let state = Mutex(State())

    /// Adds `connection`; false once the server has stopped.
    func insert(_ connection: HTTPConnection, on loop: EventLoop) -> Bool {
        state.withLock { state in
            guard !state.isClosed else { return false }
            state.connections[ObjectIdentifier(connection)] = LoopConfined(connection, on: loop)
            return true
        }
    }

    func remove(_ connection: HTTPConnection) {
        _ = state.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(connection)) }
    }

    /// Refuses new connections and asks every loop to close the ones it holds.
    func closeAll() {
        let open = state.withLock { state in
            state.isClosed = true
            return Array(state.connections.values)
        }
        for confined in open {
            confined.loop.execute { confined.value.close(reason: "server stopped") }
        }
    }
}
