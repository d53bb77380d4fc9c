import IMCore
import IMNet

/// Logic's RPC methods (ids 201–204, see docs/rpc.md).
public enum LogicRPC {
    /// Method ids. Part of the wire format: never reuse one for another meaning.
    public enum Method {
        public static let connect: Int32 = 201
        public static let disconnect: Int32 = 202
        public static let register: Int32 = 203
        public static let comets: Int32 = 204
    }

    /// A method table that answers every logic method from `logic`.
    public static func methods(serving logic: Logic) -> RPCMethodTable {
        var table = RPCMethodTable()
        table.register(Method.connect) { (request: ConnectRequest) -> ConnectReply in
            do {
                let result = try await logic.connect(server: request.server, token: request.token)
                return .accepted(result)
            } catch ConnectError.refused {
                return .refused
            } catch ConnectError.unavailable(let reason) {
                return .unavailable(reason)
            }
        }
        table.register(Method.disconnect) { (request: DisconnectRequest) in
            try await logic.disconnect(server: request.server, key: request.key)
        }
        table.register(Method.register) { (registration: CometRegistration) -> RPCVoid in
            try await logic.register(registration)
            return RPCVoid()
        }
        table.register(Method.comets) { (request: CometsRequest) in
            try await logic.comets(after: request.generation, wait: request.wait)
        }
        return table
    }

    /// Request of `connect`: `server` Int32, `token` [UInt8].
    struct ConnectRequest: RPCCodable, Sendable {
        var server: ServerID
        var token: [UInt8]

        init(server: ServerID, token: [UInt8]) {
            self.server = server
            self.token = token
        }

        func encode(to encoder: inout RPCEncoder) {
            encoder.writeInt32(server)
            encoder.writeBytes(token)
        }

        init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
            server = try decoder.readInt32()
            token = try decoder.readBytes()
        }
    }

    /// Reply of `connect`: tag 0 then ConnectResult; tag 1 (token refused); tag 2 then the
    /// reason String (router unavailable).
    enum ConnectReply: RPCCodable, Sendable, Equatable {
        case accepted(ConnectResult)
        case refused
        case unavailable(String)

        func encode(to encoder: inout RPCEncoder) {
            switch self {
            case .accepted(let result):
                encoder.writeUInt8(0)
                encoder.encode(result)
            case .refused:
                encoder.writeUInt8(1)
            case .unavailable(let reason):
                encoder.writeUInt8(2)
                encoder.writeString(reason)
            }
        }

        init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
            switch try decoder.readUInt8() {
            case 0: self = .accepted(try decoder.decode(ConnectResult.self))
            case 1: self = .refused
            case 2: self = .unavailable(try decoder.readString())
            case let tag: throw .invalidTag(tag)
            }
        }
    }

    /// Request of `disconnect`: `server` Int32, `key` SessionKey.
    struct DisconnectRequest: RPCCodable, Sendable {
        var server: ServerID
        var key: SessionKey

        init(server: ServerID, key: SessionKey) {
            self.server = server
            self.key = key
        }

        func encode(to encoder: inout RPCEncoder) {
            encoder.writeInt32(server)
            encoder.encode(key)
        }

        init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
            server = try decoder.readInt32()
            key = try decoder.decode(SessionKey.self)
        }
    }

    /// Request of `comets`: `generation` UInt64, `wait` Int64 milliseconds (negative means 0;
    /// logic caps it at 2 s, the encoding at 60 s).
    struct CometsRequest: RPCCodable, Sendable {
        var generation: UInt64
        var wait: Duration

        init(generation: UInt64, wait: Duration) {
            self.generation = generation
            self.wait = wait
        }

        func encode(to encoder: inout RPCEncoder) {
            encoder.encode(generation)
            let (seconds, attoseconds) = min(max(wait, .zero), .seconds(60)).components
            encoder.writeInt64(seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        }

        init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
            generation = try decoder.decode(UInt64.self)
            let millis = try decoder.readInt64()
            wait = .milliseconds(min(max(millis, 0), 60_000))
        }
    }
}

/// Logic in another process, reached over RPC: the comet's and job's view of
/// `imctl serve logic`.
///
/// `connect` and `disconnect` report every failure as `ConnectError` (a refused token as
/// `.refused`, anything else, transport errors included, as `.unavailable`), so comet treats a
/// remote logic like the in-process one. `register` and `comets` throw the transport's
/// `RPCError`, or `RPCError.remote` with logic's reason.
public final class RemoteLogic: LogicClient, CometRegistry {
    private let client: RPCClient

    public init(client: RPCClient) {
        self.client = client
    }

    public func connect(server: ServerID, token: [UInt8]) async throws -> ConnectResult {
        let request = LogicRPC.ConnectRequest(server: server, token: token)
        let reply: LogicRPC.ConnectReply
        do {
            reply = try await client.call(method: LogicRPC.Method.connect, request: request)
        } catch {
            throw Self.connectError(error)
        }
        switch reply {
        case .accepted(let result): return result
        case .refused: throw ConnectError.refused
        case .unavailable(let reason): throw ConnectError.unavailable(reason)
        }
    }

    public func disconnect(server: ServerID, key: SessionKey) async throws -> Bool {
        let request = LogicRPC.DisconnectRequest(server: server, key: key)
        do {
            return try await client.call(method: LogicRPC.Method.disconnect, request: request)
        } catch {
            throw Self.connectError(error)
        }
    }

    /// A fresh registration may wait for every router to remove old sessions, each with its
    /// own RPC timeout, so it gets twice the usual time.
    public func register(_ registration: CometRegistration) async throws {
        let timeout = client.configuration.callTimeout * (registration.fresh ? 2 : 1)
        _ = try await client.call(
            method: LogicRPC.Method.register, request: registration, as: RPCVoid.self,
            timeout: timeout)
    }

    /// The call's timeout is the wait plus the usual call timeout, so a long poll that logic
    /// holds for the whole wait does not time out.
    public func comets(after generation: UInt64, wait: Duration) async throws -> CometList {
        let wait = min(max(wait, .zero), Logic.maxCometListWait)
        let request = LogicRPC.CometsRequest(generation: generation, wait: wait)
        return try await client.call(
            method: LogicRPC.Method.comets, request: request,
            timeout: wait + client.configuration.callTimeout)
    }

    private static func connectError(_ error: any Error) -> any Error {
        switch error {
        case is ConnectError, is CancellationError: return error
        case RPCError.remote(let message): return ConnectError.unavailable(message)
        default: return ConnectError.unavailable("logic: \(error)")
        }
    }
}
