/// goim v1.2 operation codes (the `op` field of a frame).
///
/// v2 renumbered everything from 9 up; these are the v1.2 values, which is what imctl speaks.
/// Codes marked "internal" never travel to clients.
public enum Operation {
    /// Unused in goim v1.2 (the RSA handshake was never implemented).
    public static let handshake: Int32 = 0
    /// Unused in goim v1.2.
    public static let handshakeReply: Int32 = 1
    /// Client → server keep-alive.
    public static let heartbeat: Int32 = 2
    /// Server → client answer to a heartbeat, empty body.
    public static let heartbeatReply: Int32 = 3
    /// Client → server "send message": the server echoes the body back as op 5.
    public static let sendMessage: Int32 = 4
    /// Server → client: the echo of op 4, and every push.
    public static let sendMessageReply: Int32 = 5
    /// Defined by goim, never sent.
    public static let disconnectReply: Int32 = 6
    /// Client → server, the first frame of a connection; body = token.
    public static let auth: Int32 = 7
    /// Server → client answer to a successful auth, empty body.
    public static let authReply: Int32 = 8
    /// Unused in goim v1.2.
    public static let handshakeSID: Int32 = 9
    /// Unused in goim v1.2.
    public static let handshakeSIDReply: Int32 = 10
    /// Internal: the body already holds complete encoded frames (a room batch).
    public static let raw: Int32 = 11
    /// Internal to goim's job (flush tick marker).
    public static let roomReady: Int32 = 12
    /// Internal to goim's comet (writer wake-up marker).
    public static let protoReady: Int32 = 13
    /// Internal to goim's comet (writer stop marker).
    public static let protoFinish: Int32 = 14
    /// Client → server test request.
    public static let test: Int32 = 254
    /// Server → client answer to a test request.
    public static let testReply: Int32 = 255

    /// The op every push reaches clients with (same value as `sendMessageReply`).
    public static let push: Int32 = sendMessageReply

    /// goim's name for `op` (`"OP_HEARTBEAT"`), or nil for codes goim v1.2 does not define.
    /// For logs and the CLI.
    public static func name(of op: Int32) -> String? {
        names[op]
    }

    private static let names: [Int32: String] = [
        handshake: "OP_HANDSHAKE", handshakeReply: "OP_HANDSHAKE_REPLY",
        heartbeat: "OP_HEARTBEAT", heartbeatReply: "OP_HEARTBEAT_REPLY",
        sendMessage: "OP_SEND_SMS", sendMessageReply: "OP_SEND_SMS_REPLY",
        disconnectReply: "OP_DISCONNECT_REPLY", auth: "OP_AUTH", authReply: "OP_AUTH_REPLY",
        handshakeSID: "OP_HANDSHAKE_SID", handshakeSIDReply: "OP_HANDSHAKE_SID_REPLY",
        raw: "OP_RAW", roomReady: "OP_ROOM_READY", protoReady: "OP_PROTO_READY",
        protoFinish: "OP_PROTO_FINISH", test: "OP_TEST", testReply: "OP_TEST_REPLY",
    ]
}
