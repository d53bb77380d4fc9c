import IMCore
import IMNet

/// The router's RPC methods (ids 101–106, see docs/rpc.md), served from any `RouterClient`.
public enum RouterRPC {
    /// Method ids. Part of the wire format: never reuse one for another meaning.
    public enum Method {
        public static let put: Int32 = 101
        public static let delete: Int32 = 102
        public static let sessions: Int32 = 103
        public static let deleteServer: Int32 = 104
        public static let roomCounts: Int32 = 105
        public static let serverCounts: Int32 = 106
    }

    /// A method table that answers every router method from `router`.
    public static func methods(serving router: any RouterClient) -> RPCMethodTable {
        var table = RPCMethodTable()
        table.register(Method.put) { (request: PutRequest) in
            try await router.put(user: request.user, server: request.server, room: request.room)
        }
        table.register(Method.delete) { (key: SessionKey) in
            try await router.delete(user: key.user, seq: key.seq)
        }
        table.register(Method.sessions) { (users: [UserID]) in
            try await router.sessions(of: users)
        }
        table.register(Method.deleteServer) { (server: ServerID) in
            try await router.deleteServer(server)
        }
        table.register(Method.roomCounts) { (_: RPCVoid) in try await router.roomCounts() }
        table.register(Method.serverCounts) { (_: RPCVoid) in try await router.serverCounts() }
        return table
    }

    /// Request of `put`: `user` Int64, `server` Int32, `room` Int32?.
    struct PutRequest: RPCCodable, Sendable {
        var user: UserID
        var server: ServerID
        var room: RoomID?

        init(user: UserID, server: ServerID, room: RoomID?) {
            self.user = user
            self.server = server
            self.room = room
        }

        func encode(to encoder: inout RPCEncoder) {
            encoder.writeInt64(user)
            encoder.writeInt32(server)
            encoder.encode(room)
        }

        init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
            user = try decoder.readInt64()
            server = try decoder.readInt32()
            room = try decoder.decode(RoomID?.self)
        }
    }
}

/// A router in another process, reached over RPC: logic's view of `imctl serve router`.
/// Errors are the transport's (`RPCError`); the caller decides what they mean.
public final class RemoteRouter: RouterClient {
    private let client: RPCClient

    public init(client: RPCClient) {
        self.client = client
    }

    public func put(user: UserID, server: ServerID, room: RoomID?) async throws -> Int32 {
        let request = RouterRPC.PutRequest(user: user, server: server, room: room)
        return try await client.call(method: RouterRPC.Method.put, request: request)
    }

    public func delete(user: UserID, seq: Int32) async throws -> Bool {
        let key = SessionKey(user: user, seq: seq)
        return try await client.call(method: RouterRPC.Method.delete, request: key)
    }

    public func sessions(of users: [UserID]) async throws -> [UserID: [SessionRecord]] {
        try await client.call(method: RouterRPC.Method.sessions, request: users)
    }

    public func deleteServer(_ server: ServerID) async throws -> Int {
        try await client.call(method: RouterRPC.Method.deleteServer, request: server)
    }

    public func roomCounts() async throws -> [RoomID: Int] {
        try await client.call(method: RouterRPC.Method.roomCounts, request: RPCVoid())
    }

    public func serverCounts() async throws -> [ServerID: Int] {
        try await client.call(method: RouterRPC.Method.serverCounts, request: RPCVoid())
    }
}
