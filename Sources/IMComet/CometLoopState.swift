import IMCore
import IMNet

/// One loop's share of a comet: its open connections, its sessions by key and its room index.
/// Loop-confined (reached from other threads only through `LoopBound`), so deliveries take no
/// lock: a push is a dictionary lookup per key, a room broadcast a walk over one array.
final class CometLoopState {
    let loop: EventLoop
    let context: CometContext

    /// Authenticated connections by key. A newer connection with the same key replaces the
    /// older one (closed), so each key maps to at most one connection per loop.
    private var sessions: [SessionKey: CometConnection] = [:]

    /// Every open connection, authenticating ones included (broadcast and shutdown walk it).
    private var open = ConnectionList(.open)

    /// Room → its active members on this loop. A room with no members has no entry.
    private var rooms: [RoomID: ConnectionList] = [:]

    /// Every loop's state, this one included (set once by `Comet.init`, emptied at shutdown
    /// to break the reference cycle between the states).
    var peers: [LoopBound<CometLoopState>] = []

    init(loop: EventLoop, context: CometContext) {
        self.loop = loop
        self.context = context
    }
}

// MARK: - Membership

extension CometLoopState {
    /// Takes over an accepted socket (already non-blocking, its file-limit slot reserved);
    /// `webSocket`: it came from the WebSocket listener; `tls`: its listener serves TLS.
    func accept(fd: Int32, webSocket: Bool = false, tls: TLSContext? = nil) {
        let session: TLSSession?
        do {
            session = try tls.map { try TLSSession(context: $0, fd: fd) }
        } catch {
            context.logger.warning("cannot start a TLS session", ["error": "\(error)"])
            System.close(fd)
            FileLimit.shared.release()
            return
        }
        let connection = CometConnection(fd: fd, home: self, webSocket: webSocket, tls: session)
        open.insert(connection)
        context.metrics.accepted(connection.listenerProtocol).increment()
        do {
            try connection.start()
        } catch {
            context.logger.warning("cannot watch an accepted socket", ["error": "\(error)"])
            connection.close(.readError((error as? SystemError)?.errno ?? 0))
        }
    }

    /// Records an authenticated connection under its key and in its room, and has the other
    /// loops close an older connection with the same key.
    func activate(_ connection: CometConnection) {
        connection.activationOrder = context.nextActivationOrder()
        if let older = sessions[connection.key], older !== connection {
            older.replaced()
        }
        sessions[connection.key] = connection
        if let room = connection.room {
            rooms[room, default: ConnectionList(.room)].insert(connection)
        }
        context.metrics.open(connection.listenerProtocol).add(1)
        announce(connection.key, order: connection.activationOrder)
    }

    /// Tells the other loops that `key` was activated here as the `order`th activation.
    private func announce(_ key: SessionKey, order: UInt32) {
        for peer in peers where peer.loop !== loop {
            peer.run { $0.keyActivatedElsewhere(key, order: order) }
        }
    }

    /// Another loop activated `key`: a connection here with that key that was activated
    /// earlier is replaced by it (the newer one owns the router's session).
    private func keyActivatedElsewhere(_ key: SessionKey, order: UInt32) {
        guard let local = sessions[key], local.wasActivated(before: order) else { return }
        local.replaced()
    }

    /// Forgets a closing connection.
    func remove(_ connection: CometConnection, wasActive: Bool) {
        open.remove(connection)
        guard wasActive else { return }

        if sessions[connection.key] === connection {
            sessions[connection.key] = nil
        }
        if let room = connection.room {
            leave(room, connection)
        }
        context.metrics.open(connection.listenerProtocol).add(-1)
    }

    private func leave(_ room: RoomID, _ connection: CometConnection) {
        guard rooms[room] != nil else { return }

        rooms[room]!.remove(connection)
        if rooms[room]!.isEmpty { rooms[room] = nil }
    }

    /// Closes every connection (comet shutdown) and returns the keys of the authenticated ones,
    /// so the caller can tell logic and wait for it.
    func closeAll() -> [SessionKey] {
        peers = []
        let keys = Array(sessions.keys)
        while let connection = open.members.last {
            connection.close(.shutdown)
        }
        return keys
    }
}

// MARK: - Delivery

extension CometLoopState {
    /// Queues the pushes on the connections of this loop whose key is in `keys`; keys on
    /// other loops are simply absent here.
    func deliver(_ pushes: PushEncodings, to keys: [SessionKey]) {
        var walk = DeliveryWalk(pushes)
        for key in keys {
            if let connection = sessions[key] { walk.deliver(to: connection) }
        }
        finish(walk)
    }

    /// Queues the pushes on every authenticated connection of this loop.
    func broadcast(_ pushes: PushEncodings) {
        var walk = DeliveryWalk(pushes)
        for connection in open.members where connection.phase == .active {
            walk.deliver(to: connection)
        }
        finish(walk)
    }

    /// Queues the pushes on every member of `room` on this loop.
    func broadcast(_ pushes: PushEncodings, room: RoomID) {
        var walk = DeliveryWalk(pushes)
        rooms[room]?.forEach { walk.deliver(to: $0) }
        finish(walk)
    }

    /// Closes the connections the walk found over their limit (only now, so no list changes
    /// while it is walked) and folds the delivery count into the shared counter once.
    private func finish(_ walk: DeliveryWalk) {
        for connection in walk.slow {
            connection.closeAsSlow()
        }
        if walk.deliveries != 0 {
            context.metrics.deliveries.increment(by: walk.deliveries)
        }
    }
}

/// One push's pass over receivers: a delivery is a retained chunk appended and a flush
/// arranged; receivers over their outbound limit are set aside for closing. Each format's
/// chunk is fetched from the shared `PushEncodings` once per walk, then reused.
private struct DeliveryWalk {
    let pushes: PushEncodings
    /// Push frames per delivery (a JSON message carries them all, but counts them all).
    let frames: Int
    private var chunks: [ByteChunk?] = Array(repeating: nil, count: WireFormat.allCases.count)
    private(set) var deliveries = 0
    private(set) var slow: [CometConnection] = []

    init(_ pushes: PushEncodings) {
        self.pushes = pushes
        self.frames = pushes.bodies.count
    }

    mutating func deliver(to connection: CometConnection) {
        if connection.enqueue(chunk(for: connection.wireFormat)) {
            deliveries &+= frames
        } else {
            slow.append(connection)
        }
    }

    private mutating func chunk(for format: WireFormat) -> ByteChunk {
        if let chunk = chunks[format.rawValue] { return chunk }

        let chunk = pushes.chunk(for: format)
        chunks[format.rawValue] = chunk
        return chunk
    }
}

// MARK: - Diagnostics

/// What one loop holds, copied out for tests and diagnostics.
struct CometLoopSnapshot: Sendable, Equatable {
    var keys: Set<SessionKey>
    var openConnections: Int
    var roomMembers: [RoomID: Int]
}

extension CometLoopState {
    func snapshot() -> CometLoopSnapshot {
        CometLoopSnapshot(
            keys: Set(sessions.keys), openConnections: open.count,
            roomMembers: rooms.mapValues(\.count))
    }
}
