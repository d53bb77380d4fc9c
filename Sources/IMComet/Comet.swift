import IMCore
import IMNet
import Synchronization

/// The comet role: holds client connections on the event loops, authenticates them through
/// logic, answers heartbeats, echoes and tests, and delivers pushes.
///
/// Connections live on the loop that accepted them (design.md §4.1). Pushes are encoded at most
/// once per wire format (TCP, WebSocket binary, WebSocket JSON; `PushEncodings`) and the same
/// `ByteChunk` is queued on every receiver of that format (§4.2); each loop keeps its own
/// sessions map and room index, so the push methods only post work to the loops (§4.3).
///
/// Start: `init`, then `listenTCP` and/or `listenWebSocket` (the group must be started by its
/// owner). Stop: `shutdown()`, then shut the group down.
public final class Comet: CometClient {
    /// Counters for this comet (connections, timeouts, deliveries, ...).
    public let metrics: CometMetrics

    private let group: EventLoopGroup
    private let context: CometContext
    /// One state per loop, indexed like `group.loops`.
    private let loopStates: [LoopBound<CometLoopState>]
    private let listeners = Mutex<[BoundListener]>([])
    private let isShuttingDown = Atomic<Bool>(false)
    private let backlog: PushBacklog

    /// A comet that will serve connections on `group`'s loops and ask `logic` about tokens.
    public init(
        group: EventLoopGroup, logic: any LogicClient,
        configuration: CometConfiguration = CometConfiguration()
    ) {
        let context = CometContext(
            configuration: configuration, logic: logic, logger: Logger(label: "comet"))
        self.context = context
        self.metrics = context.metrics
        self.group = group
        backlog = PushBacklog(
            limit: configuration.pushBacklogPerLoop * group.loops.count,
            waits: context.metrics.pushBacklogWaits)
        let states = group.loops.map { loop in
            CometLoopState(loop: loop, context: context)
        }
        let loopStates = zip(states, group.loops).map { LoopBound($0, on: $1) }
        // Before any loop can see the states: nothing else touches them yet.
        states.forEach { $0.peers = loopStates }
        self.loopStates = loopStates
    }

    public var serverID: ServerID { context.serverID }

    /// The configuration this comet was created with.
    public var configuration: CometConfiguration { context.configuration }

    /// Authenticated connections open now, on all loops.
    public var connectionCount: Int { metrics.openTotal }

    /// Accepts goim TCP clients on `host:port` (port 0 picks a free port) with one listening
    /// socket per loop, and returns the bound address.
    ///
    /// - Parameter tls: a server context to speak TLS with every client of this listener
    ///   (the handshake must finish within the handshake timeout); nil, the default: plain TCP.
    /// - Throws: `SocketAddressError` for a bad host or port, `SystemError` when the address
    ///   cannot be bound.
    @discardableResult
    public func listenTCP(host: String, port: Int, tls: TLSContext? = nil) throws
        -> SocketAddress
    {
        let server = try TCPServer.listen(group: group, host: host, port: port) {
            [self] loop, fd, _ in
            accept(on: loop, fd: fd, tls: tls)
        }
        listeners.withLock { $0.append(server) }
        let proto = tls == nil ? "tcp" : "tcp-tls"
        context.logger.info("comet listening", ["address": "\(server.address)", "proto": proto])
        return server.address
    }

    /// Accepts goim WebSocket clients on `host:port` (port 0 picks a free port): each
    /// connection starts with an HTTP upgrade request for `/sub` (any query), bounded to 8 KiB
    /// and to the handshake timeout, then speaks goim in JSON or binary messages (see
    /// docs/websocket.md). Returns the bound address.
    ///
    /// - Parameter tls: a server context to speak TLS (wss) with every client of this listener,
    ///   before the upgrade request, within the same handshake timeout; nil, the default: ws.
    /// - Throws: `SocketAddressError` for a bad host or port, `SystemError` when the address
    ///   cannot be bound.
    @discardableResult
    public func listenWebSocket(host: String, port: Int, tls: TLSContext? = nil) throws
        -> SocketAddress
    {
        let server = try TCPServer.listen(group: group, host: host, port: port) {
            [self] loop, fd, _ in
            accept(on: loop, fd: fd, webSocket: true, tls: tls)
        }
        listeners.withLock { $0.append(server) }
        let proto = tls == nil ? "ws" : "wss"
        context.logger.info("comet listening", ["address": "\(server.address)", "proto": proto])
        return server.address
    }

    /// Runs on the accepting loop.
    private func accept(
        on loop: EventLoop, fd: Int32, webSocket: Bool = false, tls: TLSContext? = nil
    ) {
        guard !isShuttingDown.load(ordering: .acquiring) else {
            System.close(fd)
            FileLimit.shared.release()
            return
        }
        loopStates[loop.index].valueOnLoop().accept(fd: fd, webSocket: webSocket, tls: tls)
    }
}

// MARK: - Pushes

extension Comet {
    /// Encodes `bodies` once per wire format in use and has every loop queue them on its
    /// connections with these keys. Returns once the work is posted (after waiting while the
    /// loops are behind by the backlog limit); keys not connected here are skipped.
    public func push(keys: [SessionKey], bodies: [[UInt8]]) async throws {
        guard !keys.isEmpty, !bodies.isEmpty else { return }

        let pushes = PushEncodings(bodies)
        await post { $0.deliver(pushes, to: keys) }
    }

    /// Encodes `bodies` once per wire format in use and queues them on every authenticated
    /// connection. Returns as `push` does.
    public func broadcast(bodies: [[UInt8]]) async throws {
        guard !bodies.isEmpty else { return }

        let pushes = PushEncodings(bodies)
        await post { $0.broadcast(pushes) }
    }

    /// Encodes `bodies` once per wire format in use and queues them on every connection in
    /// `room`. Returns as `push` does.
    public func broadcastRoom(_ room: RoomID, bodies: [[UInt8]]) async throws {
        guard !bodies.isEmpty else { return }

        let pushes = PushEncodings(bodies)
        await post { $0.broadcast(pushes, room: room) }
    }

    /// Runs `delivery` on every loop, each post holding a backlog slot until it has run.
    private func post(_ delivery: @escaping @Sendable (CometLoopState) -> Void) async {
        for state in loopStates {
            await backlog.admit()
            state.run { [backlog] loopState in
                delivery(loopState)
                backlog.release()
            }
        }
    }
}

// MARK: - Shutdown

extension Comet {
    /// Stops accepting, closes every client connection and tells logic about each
    /// authenticated one. Each of the two waits (loops closing, logic acknowledging) is bounded
    /// by `configuration.shutdownTimeout`; a second call returns at once.
    public func shutdown() async {
        guard !isShuttingDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        // Loops that stop drop what is posted to them, and those posts never give their slot
        // back: no push may wait for one any more.
        backlog.open()

        // Emptying the list also breaks the cycle comet → listener → accept handler → comet.
        for listener in listeners.withLock({ listeners in
            defer { listeners = [] }
            return listeners
        }) {
            listener.close()
        }
        let keys = await closeAllConnections()
        let acknowledged = await disconnectAll(keys)
        context.logger.info(
            "comet stopped", ["sessions": "\(keys.count)", "disconnected": "\(acknowledged)"])
    }

    /// Closes every connection on every loop (all loops at once, one deadline); the keys of
    /// the authenticated ones.
    private func closeAllConnections() async -> [SessionKey] {
        let waits = loopStates.map { state in
            let wait = BoundedWait<[SessionKey]>()
            Task { wait.deliver(await state.submit { $0.closeAll() }) }
            return wait
        }
        let deadline = ContinuousClock.now + configuration.shutdownTimeout
        var keys: [SessionKey] = []
        for wait in waits {
            keys += await wait.value(within: ContinuousClock.now.duration(to: deadline)) ?? []
        }
        return keys
    }

    /// Tells logic that each session ended, a few calls at a time; how many were acknowledged
    /// before the time limit.
    private func disconnectAll(_ keys: [SessionKey]) async -> Int {
        guard !keys.isEmpty else { return 0 }

        let acknowledged = Counter("comet_shutdown_disconnects", help: "disconnects acknowledged")
        let done = BoundedWait<Void>()
        let task = Task { [context] in
            await Comet.disconnect(keys, through: context, acknowledged: acknowledged)
            done.deliver(())
        }
        _ = await done.value(within: configuration.shutdownTimeout)
        task.cancel()
        return acknowledged.current
    }

    private static func disconnect(
        _ keys: [SessionKey], through context: CometContext, acknowledged: Counter
    ) async {
        let parallelCalls = 32
        await withTaskGroup(of: Bool.self) { group in
            var next = 0
            func startNext() {
                guard next < keys.count else { return }
                let key = keys[next]
                next += 1
                group.addTask {
                    (try? await context.logic.disconnect(server: context.serverID, key: key)) != nil
                }
            }
            for _ in 0..<parallelCalls { startNext() }
            while let ok = await group.next() {
                if ok { acknowledged.increment() }
                startNext()
            }
        }
    }
}

// MARK: - Diagnostics

extension Comet {
    /// Each loop's sessions, open connections and room sizes, in loop order.
    func loopSnapshots() async -> [CometLoopSnapshot] {
        var snapshots: [CometLoopSnapshot] = []
        for state in loopStates {
            snapshots.append(await state.submit { $0.snapshot() })
        }
        return snapshots
    }
}
