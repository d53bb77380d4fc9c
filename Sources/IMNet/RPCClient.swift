import IMCore
import Synchronization

/// The client side of imctl's internal RPC: one persistent TCP connection to one server,
/// shared by every task that calls through it (calls are pipelined, replies matched by seq).
///
/// The connection lives on one event loop. It is opened when the client is created and
/// reopened whenever it is lost, with exponential backoff (`reconnectInitialDelay` doubling
/// to `reconnectMaxDelay`, each wait jittered to between half and all of it). The group of
/// the loop must be started.
///
/// What a call meets:
/// - connected: it is sent at once;
/// - a connection attempt in progress: it is queued and sent once connected, or fails with
///   `RPCError.disconnected` if the attempt fails;
/// - waiting to reconnect: it fails at once with `RPCError.disconnected` (nothing is queued
///   while no server is there);
/// - closed (or the loop shut down): it fails with `RPCError.closed`.
///
/// Every call has a timeout (`callTimeout`, 3 s by default, goim's) measured on the loop's
/// timer wheel, so it fires up to one 100 ms tick late. When a call times out and the server
/// sent nothing at all since the call went out, the client pings it (method 0, answered by the
/// server's loop, not its handler); no answer to the ping either and the connection is taken
/// for dead, closed and reopened. TCP keepalive is on as well.
///
/// Dropping the last reference closes the client, as `close()` does.
public final class RPCClient: Sendable {
    /// Timeouts, backoff and limits. Every field has a working default.
    public struct Configuration: Sendable {
        /// Timeout of a call that does not give its own. Default 3 s. Timeouts are capped at
        /// 24 hours.
        public var callTimeout: Duration
        /// How long a connection attempt may take. Default 2 s.
        public var connectTimeout: Duration
        /// First wait before reconnecting. Default 50 ms (rounded up to the loop's 100 ms
        /// timer tick).
        public var reconnectInitialDelay: Duration
        /// Longest wait before reconnecting. Default 2 s.
        public var reconnectMaxDelay: Duration
        /// Largest payload of a call, and of a reply (a larger reply closes the connection:
        /// configure servers with the same limit). Default 16 MiB.
        public var maxPayloadSize: Int
        /// Calls sent (or queued) and not yet answered; more fail with `.overloaded`.
        /// Default 10,000.
        public var maxPendingCalls: Int
        /// Call bytes queued for a server that does not read them; new calls fail with
        /// `.overloaded` beyond it. Default 64 MiB.
        public var maxOutboundBytes: Int

        public init(
            callTimeout: Duration = .seconds(3), connectTimeout: Duration = .seconds(2),
            reconnectInitialDelay: Duration = .milliseconds(50),
            reconnectMaxDelay: Duration = .seconds(2),
            maxPayloadSize: Int = RPCWire.defaultMaxPayloadSize, maxPendingCalls: Int = 10_000,
            maxOutboundBytes: Int = 64 << 20
        ) {
            self.callTimeout = callTimeout
            self.connectTimeout = connectTimeout
            self.reconnectInitialDelay = reconnectInitialDelay
            self.reconnectMaxDelay = reconnectMaxDelay
            self.maxPayloadSize = maxPayloadSize
            self.maxPendingCalls = maxPendingCalls
            self.maxOutboundBytes = maxOutboundBytes
        }

        /// A copy with `change` applied.
        public func with(_ change: (inout Configuration) -> Void) -> Configuration {
            var copy = self
            change(&copy)
            return copy
        }
    }

    /// What one client did, readable from any thread. Every series carries the label
    /// `peer` (the server's address), so the clients of one process stay apart.
    public struct Metrics: Sendable {
        /// Calls sent or queued (pings included).
        public let calls: Counter
        /// Calls that timed out.
        public let timeouts: Counter
        /// Calls that failed at once because no connection was up.
        public let failedFast: Counter
        /// Calls answered with an error by the server's handler.
        public let remoteErrors: Counter
        /// Replies dropped because their call had already timed out or been cancelled.
        public let lateReplies: Counter
        /// Connections established.
        public let connects: Counter
        /// Established connections that were lost.
        public let connectionLosses: Counter
        /// Seconds from `call` to its outcome (reply, error or timeout), pings included.
        public let callDuration: Histogram

        public init(labels: [MetricLabel] = []) {
            func counter(_ name: String, _ help: String) -> Counter {
                Counter(name, help: help, labels: labels)
            }
            calls = counter("imctl_rpc_client_calls_total", "RPC calls sent")
            timeouts = counter("imctl_rpc_client_timeouts_total", "RPC calls that timed out")
            failedFast = counter(
                "imctl_rpc_client_failed_fast_total", "RPC calls refused while disconnected")
            remoteErrors = counter(
                "imctl_rpc_client_remote_errors_total", "RPC calls answered with an error")
            lateReplies = counter(
                "imctl_rpc_client_late_replies_total",
                "RPC replies dropped because their call was gone")
            connects = counter("imctl_rpc_client_connects_total", "RPC connections established")
            connectionLosses = counter(
                "imctl_rpc_client_connection_losses_total", "RPC connections lost")
            callDuration = Histogram(
                "imctl_rpc_client_call_seconds",
                help: "seconds from an RPC call to its reply, error or timeout", labels: labels)
        }

        /// Every metric, for a registry.
        public var all: [any Metric] {
            [
                calls, timeouts, failedFast, remoteErrors, lateReplies, connects,
                connectionLosses, callDuration,
            ]
        }
    }

    /// Where the client's connection stands.
    public enum ConnectionState: UInt8, Sendable {
        /// An attempt to connect is in progress; calls are queued.
        case connecting
        /// Calls are sent at once.
        case connected
        /// The last attempt failed or the connection was lost; calls fail at once.
        case waitingToReconnect
        /// `close()` was called or the loop shut down; calls fail with `.closed`.
        case closed
    }

    /// The server's address.
    public let address: SocketAddress
    public let configuration: Configuration
    public let metrics: Metrics
    private let status = RPCClientStatus()
    private let core: LoopConfined<RPCClientCore>

    /// Timeouts are capped so a deadline never overflows the loop's clock.
    static let maxTimeoutMillis = 24 * 3_600_000

    /// A client of the server at `address` whose connection lives on `loop`. Connecting
    /// starts at once (on the loop); a host name is resolved off the loop at each attempt.
    public init(address: SocketAddress, loop: EventLoop, configuration: Configuration = .init()) {
        self.address = address
        self.configuration = configuration
        let metrics = Metrics(labels: [MetricLabel("peer", "\(address)")])
        self.metrics = metrics
        let core = RPCClientCore(
            address: address, loop: loop, configuration: configuration, metrics: metrics,
            status: status)
        let confined = LoopConfined(core, on: loop)
        self.core = confined
        loop.execute { confined.value.start() }
    }

    /// A client on the next loop of `group` (round robin).
    public convenience init(
        address: SocketAddress, group: EventLoopGroup, configuration: Configuration = .init()
    ) {
        self.init(address: address, loop: group.next(), configuration: configuration)
    }

    deinit {
        let core = self.core
        core.loop.execute { core.value.close() }
    }

    /// Where the connection stands now (it may change right after).
    public var connectionState: ConnectionState { status.state }

    /// Calls `method` (1...Int32.max) with `payload` and returns the reply payload. Safe to
    /// call from many tasks at once.
    ///
    /// - Parameter timeout: default `configuration.callTimeout`.
    /// - Throws: `RPCError` (see its cases), or `CancellationError` when the task is
    ///   cancelled (the call may still run on the server; its reply is dropped).
    public func call(
        method: Int32, payload: [UInt8], timeout: Duration? = nil
    ) async throws -> [UInt8] {
        guard method > 0 else {
            throw RPCError.protocolError("method \(method) is not a handler method (1...)")
        }
        return try await perform(method: method, payload: payload, timeout: timeout)
    }

    /// Calls `method` with `request` encoded, and decodes the reply as `Reply`.
    ///
    /// - Throws: as `call(method:payload:timeout:)`; a reply that does not decode as `Reply`
    ///   throws `RPCError.protocolError`.
    public func call<Request: RPCEncodable, Reply: RPCDecodable>(
        method: Int32, request: Request, as replyType: Reply.Type = Reply.self,
        timeout: Duration? = nil
    ) async throws -> Reply {
        let reply = try await call(
            method: method, payload: RPCEncoder.encode(request), timeout: timeout)
        do throws(RPCDecodingError) {
            return try RPCDecoder.decode(Reply.self, from: reply)
        } catch {
            throw RPCError.protocolError("bad reply to method \(method): \(error)")
        }
    }

    /// Asks the server's loop for an empty answer (method 0; no handler involved).
    public func ping(timeout: Duration? = nil) async throws {
        _ = try await perform(method: RPCWire.pingMethod, payload: [], timeout: timeout)
    }

    /// Closes the connection and stops reconnecting; calls in flight and later calls fail
    /// with `RPCError.closed`. Takes effect on the loop, right after this returns. Idempotent.
    public func close() {
        let core = self.core
        core.loop.execute { core.value.close() }
    }

    private func perform(
        method: Int32, payload: [UInt8], timeout: Duration?
    ) async throws -> [UInt8] {
        guard payload.count <= configuration.maxPayloadSize else {
            let limit = configuration.maxPayloadSize
            throw RPCError.payloadTooLarge(size: payload.count, limit: limit)
        }
        try Task.checkCancellation()

        let timeoutMillis = min(
            RPCWire.millis(timeout ?? configuration.callTimeout), Self.maxTimeoutMillis)
        let call = RPCPendingCall(method: method, payload: payload, timeoutMillis: timeoutMillis)
        let core = self.core
        let start = ContinuousClock.now
        defer { metrics.callDuration.observe(since: start) }
        return try await withTaskCancellationHandler {
            await core.loop.submit {
                // Off the loop means the loop has shut down and ran this on the caller.
                if core.loop.isCurrent {
                    core.value.start(call)
                } else {
                    call.finish(.failure(RPCError.closed))
                }
            }
            return try await call.outcome()
        } onCancel: {
            if call.finish(.failure(CancellationError())) {
                core.loop.execute { core.value.discard(call) }
            }
        }
    }
}

/// The connection state of a client, published by its loop for any thread to read.
final class RPCClientStatus: Sendable {
    private let raw = Atomic<UInt8>(RPCClient.ConnectionState.connecting.rawValue)

    var state: RPCClient.ConnectionState {
        RPCClient.ConnectionState(rawValue: raw.load(ordering: .acquiring)) ?? .closed
    }

    func set(_ state: RPCClient.ConnectionState) {
        raw.store(state.rawValue, ordering: .releasing)
    }
}
