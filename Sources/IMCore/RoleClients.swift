/// What the roles may ask of each other. `serve all` wires in-process implementations of these
/// protocols; the distributed mode wires RPC clients. Roles depend only on these protocols,
/// never on each other's modules.

/// A comet server id (goim's `server.id`).
public typealias ServerID = Int32

/// A room id. goim v1.2 rooms are int32; "no room" is `nil` here (goim used -1).
public typealias RoomID = Int32

/// A user id (goim's `mid`).
public typealias UserID = Int64

/// One live session of a user, as the router records it.
public struct SessionRecord: Sendable, Equatable, Hashable {
    public var seq: Int32
    public var server: ServerID
    public var room: RoomID?

    public init(seq: Int32, server: ServerID, room: RoomID?) {
        self.seq = seq
        self.server = server
        self.room = room
    }
}

/// The session table (router role).
public protocol RouterClient: Sendable {
    /// Records a new session and returns its sequence number (first is 1).
    func put(user: UserID, server: ServerID, room: RoomID?) async throws -> Int32

    /// Removes one session. Returns whether it existed. The router uses the room it recorded,
    /// not one supplied by the caller.
    func delete(user: UserID, seq: Int32) async throws -> Bool

    /// The live sessions of each requested user (users without sessions are absent).
    func sessions(of users: [UserID]) async throws -> [UserID: [SessionRecord]]

    /// Removes every session on `server`; returns how many were removed.
    func deleteServer(_ server: ServerID) async throws -> Int

    /// Online sessions per room (rooms with at least one session only).
    func roomCounts() async throws -> [RoomID: Int]

    /// Online sessions per comet server (servers with at least one session only).
    func serverCounts() async throws -> [ServerID: Int]
}

/// A router client whose lookups finish at once on the calling thread, under short locks and
/// without I/O (the in-process router of `serve all`). Logic uses it to answer pushes on the
/// HTTP event loop instead of hopping to a task.
public protocol ImmediateRouterClient: RouterClient {
    /// What `sessions(of:)` returns, computed without suspending.
    func sessionsNow(of users: [UserID]) -> [UserID: [SessionRecord]]
}

/// What a comet learns from logic when a client authenticates.
public struct ConnectResult: Sendable, Equatable {
    public var key: SessionKey
    public var room: RoomID?

    public init(key: SessionKey, room: RoomID?) {
        self.key = key
        self.room = room
    }
}

/// Errors a logic client reports to comet.
public enum ConnectError: Error, Sendable, Equatable {
    /// The token was refused by the authenticator.
    case refused
    /// The session could not be recorded (router unreachable, timeout, ...).
    case unavailable(String)
}

/// What comets ask of logic.
public protocol LogicClient: Sendable {
    /// Authenticates `token` for a connection on `server` and records the session.
    func connect(server: ServerID, token: [UInt8]) async throws -> ConnectResult

    /// Forgets a session when its connection closes. Returns whether it existed.
    func disconnect(server: ServerID, key: SessionKey) async throws -> Bool
}

/// What job asks of one comet. Bodies are passed as raw message bytes; the comet encodes them
/// once per wire format and shares the encoded bytes among all receiving connections.
public protocol CometClient: Sendable {
    var serverID: ServerID { get }

    /// Delivers every body, in order, to each connection whose key is in `keys`.
    func push(keys: [SessionKey], bodies: [[UInt8]]) async throws

    /// Delivers every body, in order, to every authenticated connection.
    func broadcast(bodies: [[UInt8]]) async throws

    /// Delivers every body, in order, to every connection in `room`.
    func broadcastRoom(_ room: RoomID, bodies: [[UInt8]]) async throws
}

/// The comets job can reach, by server id. `serve all` has exactly one.
public protocol CometDirectory: Sendable {
    func comet(_ server: ServerID) -> (any CometClient)?
    func allComets() -> [any CometClient]
}

/// The producing side of the dispatch queue (logic → job).
public protocol DispatchPublisher: Sendable {
    /// Hands `message` to the queue. Returns once the queue has accepted it (memory: enqueued;
    /// Kafka: acknowledged by the broker). Throws `QueueError` otherwise.
    func publish(_ message: DispatchMessage) async throws

    /// Why `publish` would fail now (closed, full, broker failing), or nil when it should
    /// succeed. Cheap and non-blocking: `/healthz` asks it on every probe.
    var unavailableReason: String? { get }
}

extension DispatchPublisher {
    /// Publishers that cannot tell are assumed usable.
    public var unavailableReason: String? { nil }
}

/// A publisher that accepts or refuses a message at once, never waiting (the memory queue).
/// Logic uses it to answer pushes on the HTTP event loop instead of hopping to a task.
public protocol ImmediateDispatchPublisher: DispatchPublisher {
    /// What `publish(_:)` does, without suspending, except that a consumer waiting for
    /// messages may be left asleep: true means the caller must call `wakeConsumer()` soon.
    /// One call covers every message published before it, so a caller that publishes many
    /// messages in a row wakes the consumer once.
    func publishNow(_ message: DispatchMessage) throws(QueueError) -> Bool

    /// Wakes a consumer left asleep by `publishNow`, if it still sleeps.
    func wakeConsumer()
}

/// The consuming side of the dispatch queue (job).
public protocol DispatchConsumer: Sendable {
    /// Calls `handler` for each message, one at a time, until the task is cancelled or the queue
    /// is shut down. A message counts as handled (offset committed) when `handler` returns.
    func run(_ handler: @escaping @Sendable (DispatchMessage) async -> Void) async throws
}

public enum QueueError: Error, Sendable, Equatable {
    /// The queue is full; the message was not accepted.
    case full
    /// The queue is closed or the broker is unreachable.
    case unavailable(String)
}

/// A comet's registration with logic (RPC method 203), sent when the comet starts and then
/// every few seconds to keep it from expiring.
public struct CometRegistration: Sendable, Equatable {
    public var server: ServerID
    /// The "host:port" of the comet's RPC server, which job dials.
    public var rpcAddress: String
    /// Authenticated connections on the comet now.
    public var online: Int
    /// True for the first registration of a comet process: logic then removes the sessions
    /// an earlier process with the same server id left on the routers.
    public var fresh: Bool

    public init(server: ServerID, rpcAddress: String, online: Int, fresh: Bool) {
        self.server = server
        self.rpcAddress = rpcAddress
        self.online = online
        self.fresh = fresh
    }
}

/// A comet job can reach: its server id and the address of its RPC server.
public struct CometMember: Sendable, Hashable {
    public var server: ServerID
    public var rpcAddress: String

    public init(server: ServerID, rpcAddress: String) {
        self.server = server
        self.rpcAddress = rpcAddress
    }
}

/// The registered comets at one generation of logic's comet table.
public struct CometList: Sendable, Equatable {
    /// Changes whenever a comet is added, removed or moves to another RPC address.
    public var generation: UInt64
    /// Sorted by server id.
    public var comets: [CometMember]

    public init(generation: UInt64, comets: [CometMember]) {
        self.generation = generation
        self.comets = comets
    }
}

/// Which comets exist. Logic keeps the table; comets register and refresh, job follows it.
public protocol CometRegistry: Sendable {
    /// Adds or refreshes a comet (see `CometRegistration.fresh`).
    func register(_ registration: CometRegistration) async throws

    /// The registered comets. Long poll: while logic's generation still equals `generation`,
    /// the answer waits until the set changes or `wait` passes (at most 2 s, so it stays under
    /// the 3 s RPC timeout). Pass 0 to get the current list at once.
    func comets(after generation: UInt64, wait: Duration) async throws -> CometList
}
