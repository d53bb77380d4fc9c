/// A push on its way from logic to job: the value of a Kafka message, in goim v1.2's JSON
/// (`op`, `server`, `subkeys`, `roomid`, `msg` as base64, `ensure`).
public struct DispatchMessage: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// To the listed session keys on one comet.
        case multiple
        /// To every connection on every comet.
        case broadcast
        /// To every connection in one room.
        case broadcastRoom = "broadcast_room"
    }

    public var kind: Kind
    /// Target comet (`multiple`).
    public var server: ServerID
    /// Target sessions (`multiple`).
    public var keys: [SessionKey]
    /// Target room (`broadcast_room`).
    public var room: RoomID
    /// The message bytes, passed through unchanged.
    public var body: [UInt8]
    /// `broadcast_room`: wait for room in job's queue instead of dropping when it is full.
    public var ensure: Bool

    public init(
        kind: Kind, server: ServerID = 0, keys: [SessionKey] = [], room: RoomID = 0,
        body: [UInt8], ensure: Bool = false
    ) {
        self.kind = kind
        self.server = server
        self.keys = keys
        self.room = room
        self.body = body
        self.ensure = ensure
    }

    public static func multiple(server: ServerID, keys: [SessionKey], body: [UInt8]) -> Self {
        Self(kind: .multiple, server: server, keys: keys, body: body)
    }

    public static func broadcast(body: [UInt8]) -> Self {
        Self(kind: .broadcast, body: body)
    }

    public static func broadcastRoom(_ room: RoomID, body: [UInt8], ensure: Bool) -> Self {
        Self(kind: .broadcastRoom, room: room, body: body, ensure: ensure)
    }

    /// The partition key: room id for room messages (order per room), first user id for
    /// `multiple` (order per user), none for broadcasts.
    public var partitionKey: [UInt8]? {
        switch kind {
        case .broadcastRoom: return Array("\(room)".utf8)
        case .multiple: return keys.first.map { Array("\($0.user)".utf8) }
        case .broadcast: return nil
        }
    }
}
