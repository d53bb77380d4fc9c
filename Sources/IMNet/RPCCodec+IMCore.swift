import IMCore

// The RPC encoding of the IMCore values the roles exchange. Layouts are listed in docs/rpc.md;
// changing one changes the wire format between processes.

/// `user` (Int64), `seq` (Int32).
extension SessionKey: RPCCodable {
    public func encode(to encoder: inout RPCEncoder) {
        encoder.writeInt64(user)
        encoder.writeInt32(seq)
    }

    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
        let user = try decoder.readInt64()
        self.init(user: user, seq: try decoder.readInt32())
    }
}

/// `seq` (Int32), `server` (Int32), `room` (Int32?).
extension SessionRecord: RPCCodable {
    public func encode(to encoder: inout RPCEncoder) {
        encoder.writeInt32(seq)
        encoder.writeInt32(server)
        encoder.encode(room)
    }

    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
        let seq = try decoder.readInt32()
        let server = try decoder.readInt32()
        self.init(seq: seq, server: server, room: try decoder.decode(RoomID?.self))
    }
}

/// `key` (SessionKey), `room` (Int32?).
extension ConnectResult: RPCCodable {
    public func encode(to encoder: inout RPCEncoder) {
        encoder.encode(key)
        encoder.encode(room)
    }

    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
        let key = try decoder.decode(SessionKey.self)
        self.init(key: key, room: try decoder.decode(RoomID?.self))
    }
}

/// `server` (Int32), `rpcAddress` (String), `online` (Int), `fresh` (Bool).
extension CometRegistration: RPCCodable {
    public func encode(to encoder: inout RPCEncoder) {
        encoder.writeInt32(server)
        encoder.writeString(rpcAddress)
        encoder.encode(online)
        encoder.writeBool(fresh)
    }

    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
        let server = try decoder.readInt32()
        let rpcAddress = try decoder.readString()
        let online = try decoder.decode(Int.self)
        self.init(
            server: server, rpcAddress: rpcAddress, online: online, fresh: try decoder.readBool())
    }
}

/// `server` (Int32), `rpcAddress` (String).
extension CometMember: RPCCodable {
    public func encode(to encoder: inout RPCEncoder) {
        encoder.writeInt32(server)
        encoder.writeString(rpcAddress)
    }

    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
        let server = try decoder.readInt32()
        self.init(server: server, rpcAddress: try decoder.readString())
    }
}

/// `generation` (UInt64), `comets` ([CometMember]).
extension CometList: RPCCodable {
    public func encode(to encoder: inout RPCEncoder) {
        encoder.encode(generation)
        encoder.encode(comets)
    }

    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
        let generation = try decoder.decode(UInt64.self)
        self.init(generation: generation, comets: try decoder.decode([CometMember].self))
    }
}
