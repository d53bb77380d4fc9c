import IMCore
import IMNet

/// The comet's RPC methods (ids 301–303, see docs/rpc.md), served from any `CometClient`.
/// Message bodies travel as raw byte strings, exactly as job got them from the queue.
public enum CometRPC {
    /// Method ids. Part of the wire format: never reuse one for another meaning.
    public enum Method {
        public static let push: Int32 = 301
        public static let broadcast: Int32 = 302
        public static let broadcastRoom: Int32 = 303
    }

    /// A method table that hands every comet method to `comet`.
    public static func methods(serving comet: any CometClient) -> RPCMethodTable {
        var table = RPCMethodTable()
        table.register(Method.push) { (request: PushRequest) -> RPCVoid in
            try await comet.push(keys: request.keys, bodies: request.bodies)
            return RPCVoid()
        }
        table.register(Method.broadcast) { (bodies: [[UInt8]]) -> RPCVoid in
            try await comet.broadcast(bodies: bodies)
            return RPCVoid()
        }
        table.register(Method.broadcastRoom) { (request: RoomRequest) -> RPCVoid in
            try await comet.broadcastRoom(request.room, bodies: request.bodies)
            return RPCVoid()
        }
        return table
    }

    /// Request of `push`: `keys` [SessionKey], `bodies` [[UInt8]].
    struct PushRequest: RPCCodable, Sendable {
        var keys: [SessionKey]
        var bodies: [[UInt8]]

        init(keys: [SessionKey], bodies: [[UInt8]]) {
            self.keys = keys
            self.bodies = bodies
        }

        func encode(to encoder: inout RPCEncoder) {
            encoder.encode(keys)
            encoder.encode(bodies)
        }

        init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
            keys = try decoder.decode([SessionKey].self)
            bodies = try decoder.decode([[UInt8]].self)
        }
    }

    /// Request of `broadcastRoom`: `room` Int32, `bodies` [[UInt8]].
    struct RoomRequest: RPCCodable, Sendable {
        var room: RoomID
        var bodies: [[UInt8]]

        init(room: RoomID, bodies: [[UInt8]]) {
            self.room = room
            self.bodies = bodies
        }

        func encode(to encoder: inout RPCEncoder) {
            encoder.writeInt32(room)
            encoder.encode(bodies)
        }

        init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
            room = try decoder.readInt32()
            bodies = try decoder.decode([[UInt8]].self)
        }
    }
}

/// A comet in another process, reached over RPC: job's view of `imctl serve comet`.
/// Errors are the transport's (`RPCError`).
public final class RemoteComet: CometClient {
    public let serverID: ServerID
    private let client: RPCClient

    public init(serverID: ServerID, client: RPCClient) {
        self.serverID = serverID
        self.client = client
    }

    public func push(keys: [SessionKey], bodies: [[UInt8]]) async throws {
        let request = CometRPC.PushRequest(keys: keys, bodies: bodies)
        _ = try await client.call(method: CometRPC.Method.push, request: request, as: RPCVoid.self)
    }

    public func broadcast(bodies: [[UInt8]]) async throws {
        _ = try await client.call(
            method: CometRPC.Method.broadcast, request: bodies, as: RPCVoid.self)
    }

    public func broadcastRoom(_ room: RoomID, bodies: [[UInt8]]) async throws {
        let request = CometRPC.RoomRequest(room: room, bodies: bodies)
        _ = try await client.call(
            method: CometRPC.Method.broadcastRoom, request: request, as: RPCVoid.self)
    }
}
