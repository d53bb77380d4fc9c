import IMCore
import Synchronization

/// The server side of imctl's internal RPC: persistent TCP connections carrying goim frames
/// (`RPCWire`), calls pipelined and answered in any order, matched by seq.
///
/// Each connection lives on the loop that accepted it. A call goes to the `RPCHandler` on a
/// task of its own; its reply comes back to the loop and is queued at once, so a slow call
/// never holds up the others. A connection stops reading while `maxInFlightPerConnection`
/// calls are unanswered or a quarter of `maxOutboundBytes` is waiting to be written. A frame
/// that breaks the format (bad header, a body over `maxPayloadSize`, a `ver` other than a
/// call) closes that connection, logged and counted; calls still running on it finish and
/// their replies are dropped.
public final class RPCServer: Sendable {
    /// Limits. Every field has a working default.
    public struct Configuration: Sendable {
        /// Largest call payload (frame body); a larger frame closes the connection. Replies
        /// over it are replaced by an error reply. Default 16 MiB.
        public var maxPayloadSize: Int
        /// Calls per connection handed to the handler and not yet answered; at the cap the
        /// connection stops reading until a reply is ready. Default 128, at least 1.
        public var maxInFlightPerConnection: Int
        /// Reply bytes queued for a client that does not read them; past this the connection
        /// is closed. Reading stops at a quarter of it. Default 64 MiB.
        public var maxOutboundBytes: Int
        /// Bytes of unfinished calls all connections together may hold; a connection whose
        /// partial frame would take the total past it is closed. Bounds the memory that
        /// clients sending large calls slowly (or never finishing them) can pin. Default
        /// 64 MiB, never below `maxPayloadSize`.
        public var maxBufferedBytes: Int
        /// Where accepted sockets reserve a descriptor. Default `FileLimit.shared`.
        public var fileLimit: FileLimit

        public init(
            maxPayloadSize: Int = RPCWire.defaultMaxPayloadSize,
            maxInFlightPerConnection: Int = 128, maxOutboundBytes: Int = 64 << 20,
            maxBufferedBytes: Int = 64 << 20, fileLimit: FileLimit = .shared
        ) {
            self.maxPayloadSize = maxPayloadSize
            self.maxInFlightPerConnection = maxInFlightPerConnection
            self.maxOutboundBytes = maxOutboundBytes
            self.maxBufferedBytes = maxBufferedBytes
            self.fileLimit = fileLimit
        }

        /// A copy with `change` applied.
        public func with(_ change: (inout Configuration) -> Void) -> Configuration {
            var copy = self
            change(&copy)
            return copy
        }
    }

    /// What one server did, readable from any thread.
    public struct Metrics: Sendable {
        /// Calls handed to the handler (pings not included).
        public let calls = Counter("imctl_rpc_server_calls_total", help: "RPC calls handled")
        /// Calls whose handler threw (answered with an error reply).
        public let failedCalls = Counter(
            "imctl_rpc_server_failed_calls_total", help: "RPC calls answered with an error")
        /// Replies dropped because their connection had closed before the handler finished.
        public let droppedReplies = Counter(
            "imctl_rpc_server_dropped_replies_total",
            help: "RPC replies dropped: connection closed first")
        /// Connections closed for breaking the wire format.
        public let protocolErrors = Counter(
            "imctl_rpc_server_protocol_errors_total", help: "RPC connections closed: bad frame")
        /// Connections closed because the client did not read its replies.
        public let slowReaders = Counter(
            "imctl_rpc_server_slow_reader_closes_total", help: "RPC closes: replies not read")
        /// Connections closed because their unfinished call went past the shared budget.
        public let bufferLimitCloses = Counter(
            "imctl_rpc_server_buffer_limit_closes_total",
            help: "RPC closes: unfinished calls over the server's buffer budget")
        /// Connections open now.
        public let openConnections = Gauge(
            "imctl_rpc_server_connections", help: "Open RPC server connections")

        /// Every metric, for a registry.
        public var all: [any Metric] {
            [
                calls, failedCalls, droppedReplies, protocolErrors, slowReaders,
                bufferLimitCloses, openConnections,
            ]
        }
    }

    public let configuration: Configuration
    public let metrics = Metrics()
    let handler: any RPCHandler
    let group: EventLoopGroup
    let registry = RPCConnectionRegistry()
    /// Bytes of unfinished calls held by all connections (`maxBufferedBytes`).
    let bufferedBytes = Atomic<Int>(0)

    /// Bytes of unfinished calls the connections hold now.
    public var bufferedByteCount: Int { bufferedBytes.load(ordering: .relaxed) }
    private let lifecycle = Mutex(Lifecycle.idle)
    static let logger = Logger(label: "imnet.rpc")

    private enum Lifecycle {
        case idle
        case listening(BoundListener)
        case stopped
    }

    /// A server for `handler`; nothing is opened until `start`.
    public init(
        group: EventLoopGroup, configuration: Configuration = .init(), handler: any RPCHandler
    ) {
        self.group = group
        self.configuration = configuration
        self.handler = handler
    }

    /// Listens on `host:port` (port 0: the kernel picks one) on every loop of the group and
    /// returns the bound address. The group must be started for calls to be served. Throws
    /// when the address cannot be bound, or when the server was started before.
    public func start(host: String, port: Int) throws -> SocketAddress {
        try lifecycle.withLock { lifecycle in
            guard case .idle = lifecycle else {
                throw RPCServerError(message: "an RPC server can be started only once")
            }
            // The listener holds the server until `stop()` closes the listener.
            let bound = try TCPServer.listen(
                group: group, host: host, port: port, fileLimit: configuration.fileLimit
            ) { [self] loop, fd, peer in
                accept(fd, peer: peer, on: loop)
            }
            lifecycle = .listening(bound)
            // The role logs its own "listening" line with proto=rpc.
            Self.logger.debug("RPC server listening", ["address": "\(bound.address)"])
            return bound.address
        }
    }

    /// Stops accepting and closes every open connection; returns once the loops have done so
    /// (clients see the connection close). Handlers still running finish, but their replies
    /// are dropped. Idempotent.
    public func stop() async {
        let previous = lifecycle.withLock { lifecycle in
            defer { lifecycle = .stopped }
            return lifecycle
        }
        registry.closeAll()
        guard case .listening(let bound) = previous else { return }

        bound.close()
        // Each loop runs its inbox in order: once these return, the closes queued above ran.
        for loop in group.loops {
            await loop.submit {}
        }
        Self.logger.info("RPC server stopped", ["address": "\(bound.address)"])
    }

    private func accept(_ fd: Int32, peer: SocketAddress, on loop: EventLoop) {
        let connection = RPCServerConnection(fd: fd, peer: peer, loop: loop, server: self)
        guard registry.insert(connection, on: loop) else {
            connection.closeUnregistered()
            return
        }

        do {
            try connection.start()
            Self.logger.debug("RPC connection opened", ["peer": "\(peer)", "fd": "\(fd)"])
        } catch {
            Self.logger.warning("cannot watch RPC connection", ["error": "\(error)"])
            connection.closeUnregistered()
        }
    }
}

/// A misuse of `RPCServer` (started twice).
public struct RPCServerError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The open connections of one server, so `stop()` can close them from any thread.
final class RPCConnectionRegistry: Sendable {
    private struct State {
        var connections: [ObjectIdentifier: LoopConfined<RPCServerConnection>] = [:]
        var isClosed = false
    }

    private let state = Mutex(State())

    /// Adds `connection`; false once the server has stopped.
    func insert(_ connection: RPCServerConnection, on loop: EventLoop) -> Bool {
        state.withLock { state in
            guard !state.isClosed else { return false }
            state.connections[ObjectIdentifier(connection)] = LoopConfined(connection, on: loop)
            return true
        }
    }

    func remove(_ connection: RPCServerConnection) {
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
