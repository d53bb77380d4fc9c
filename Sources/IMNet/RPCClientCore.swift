import IMCore

/// The loop side of an `RPCClient`: which connection is current, the reconnect backoff, and
/// the seq counter. Each connection attempt is a new `RPCClientConnection`; the core hands
/// calls to the current one and waits out the backoff (its own timer) between attempts.
///
/// Loop-confined: every method runs on the client's loop.
final class RPCClientCore: TimerWheelEntry {
    let address: SocketAddress
    let loop: EventLoop
    let configuration: RPCClient.Configuration
    let metrics: RPCClient.Metrics
    private let status: RPCClientStatus
    private var state = State.idle
    private var backoff: RPCBackoff
    private var lastSeq: Int32 = 0
    /// Failed attempts since the last established connection (the first one is a warning,
    /// the rest are debug, so a server that stays away does not flood the log).
    private var failedAttempts = 0
    private var connectedAtMillis: UInt64 = 0

    static let logger = Logger(label: "imnet.rpc")

    private enum State {
        case idle
        case connecting(RPCClientConnection)
        case connected(RPCClientConnection)
        case waitingToReconnect
        case closed
    }

    init(
        address: SocketAddress, loop: EventLoop, configuration: RPCClient.Configuration,
        metrics: RPCClient.Metrics, status: RPCClientStatus
    ) {
        self.address = address
        self.loop = loop
        self.configuration = configuration
        self.metrics = metrics
        self.status = status
        backoff = RPCBackoff(
            initialMillis: RPCWire.millis(configuration.reconnectInitialDelay),
            maxMillis: RPCWire.millis(configuration.reconnectMaxDelay))
    }

    /// Opens the first connection.
    func start() {
        guard case .idle = state else { return }
        connect()
    }

    /// Sends `call` on the current connection, or fails it (see `RPCClient`).
    func start(_ call: RPCPendingCall) {
        switch state {
        case .connecting(let connection), .connected(let connection):
            // Cancelled before it reached the loop: nothing to send.
            guard !call.isFinished else { return }
            connection.send(call, seq: nextSeq())
        case .idle, .waitingToReconnect:
            metrics.failedFast.increment()
            call.finish(.failure(RPCError.disconnected))
        case .closed:
            call.finish(.failure(RPCError.closed))
        }
    }

    /// Forgets a cancelled call.
    func discard(_ call: RPCPendingCall) {
        call.connection?.discard(call)
    }

    /// The next call id: 1...Int32.max, wrapping.
    func nextSeq() -> Int32 {
        lastSeq = lastSeq == Int32.max ? 1 : lastSeq + 1
        return lastSeq
    }

    /// Closes for good; pending calls fail with `.closed`.
    func close() {
        let previous = state
        state = .closed
        status.set(.closed)
        loop.timers.cancel(self)

        switch previous {
        case .connecting(let connection), .connected(let connection):
            connection.close(reason: "client closed", failing: .closed)
            Self.logger.debug("RPC client closed", ["address": "\(address)"])
        case .idle, .waitingToReconnect, .closed:
            break
        }
    }

    /// The loop is shutting down with a connection registered on it.
    func loopDidShutdown() {
        state = .closed
        status.set(.closed)
    }

    // MARK: Connections

    private func connect() {
        let connection = RPCClientConnection(core: self)
        state = .connecting(connection)
        status.set(.connecting)
        connection.open()
    }

    /// Reconnect after the backoff delay.
    override func timerExpired() {
        guard case .waitingToReconnect = state else { return }
        connect()
    }

    /// `connection` finished connecting.
    func connectionEstablished(_ connection: RPCClientConnection) {
        guard case .connecting(let current) = state, current === connection else { return }

        state = .connected(connection)
        status.set(.connected)
        connectedAtMillis = loop.nowMillis
        failedAttempts = 0
        metrics.connects.increment()
        Self.logger.info("RPC connected", ["address": "\(address)"])
    }

    /// `connection` failed to connect or was lost: wait, then try again.
    func connectionEnded(_ connection: RPCClientConnection, reason: String) {
        switch state {
        case .connecting(let current) where current === connection:
            noteFailedAttempt(reason)
        case .connected(let current) where current === connection:
            noteLostConnection(reason)
        default:
            return
        }

        state = .waitingToReconnect
        status.set(.waitingToReconnect)
        loop.timers.schedule(self, afterMillis: backoff.nextDelayMillis())
    }

    private func noteFailedAttempt(_ reason: String) {
        failedAttempts += 1
        let metadata = ["address": "\(address)", "reason": reason]
        if failedAttempts == 1 {
            Self.logger.warning("cannot connect to RPC server, retrying", metadata)
        } else {
            Self.logger.debug("RPC connect attempt failed", metadata)
        }
    }

    private func noteLostConnection(_ reason: String) {
        metrics.connectionLosses.increment()
        Self.logger.warning(
            "RPC connection lost, reconnecting", ["address": "\(address)", "reason": reason])

        // A connection that lasted is not part of a failure streak; one that dropped at once
        // (a server accepting and closing) keeps backing off.
        let lastedMillis = loop.nowMillis &- connectedAtMillis
        if lastedMillis >= UInt64(backoff.maxMillis) { backoff.reset() }
    }
}

/// Exponential backoff with jitter: the base doubles from `initialMillis` to `maxMillis`, and
/// each delay is drawn between half the base and the base ("equal jitter"), so clients that
/// lost the same server do not reconnect in step.
public struct RPCBackoff: Sendable {
    /// The first base delay (at least 1 ms).
    public let initialMillis: Int
    /// The largest base delay (at least `initialMillis`).
    public let maxMillis: Int
    private var baseMillis: Int

    public init(initialMillis: Int, maxMillis: Int) {
        self.initialMillis = max(initialMillis, 1)
        self.maxMillis = max(maxMillis, self.initialMillis)
        baseMillis = self.initialMillis
    }

    /// The next delay, in `base/2...base`; the base doubles (up to `maxMillis`) for the next.
    public mutating func nextDelayMillis() -> Int {
        let base = baseMillis
        baseMillis = base > maxMillis / 2 ? maxMillis : base * 2
        return base - Int.random(in: 0...base / 2)
    }

    /// Starts again from `initialMillis`.
    public mutating func reset() {
        baseMillis = initialMillis
    }
}
