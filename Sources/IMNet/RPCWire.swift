import CLinux
import Glibc
import IMCore

/// The RPC's use of the 16-byte goim frame header (see `docs/rpc.md`):
///
/// ```
///  packLen  hlen=16  ver              op                 seq
///  Int32    Int16    Int16            Int32              Int32
///                    0 call           method id          call id, chosen by the client
///                    1 reply          method id (echo)   seq of the call (echo)
///                    2 error reply    method id (echo)   seq of the call (echo)
/// ```
///
/// The body is the payload: the method's encoded request or reply, or for an error reply the
/// handler's error message in UTF-8.
public enum RPCWire {
    /// `ver` of a call (client → server).
    public static let callVersion: Int16 = 0
    /// `ver` of a successful reply (server → client).
    public static let replyVersion: Int16 = 1
    /// `ver` of an error reply: the body is a UTF-8 message.
    public static let errorReplyVersion: Int16 = 2

    /// Method 0 is answered by the server itself with an empty reply, without reaching the
    /// handler: a liveness probe. Methods of handlers are 1...Int32.max.
    public static let pingMethod: Int32 = 0

    /// Error messages are cut to this many UTF-8 bytes.
    public static let maxErrorMessageBytes = 1024

    /// Default largest payload (frame body) either side accepts: 16 MiB.
    public static let defaultMaxPayloadSize = 16 << 20

    /// One frame with `payload` as its body, header and body in one chunk.
    static func frame(ver: Int16, method: Int32, seq: Int32, payload: [UInt8]) -> ByteChunk {
        let size = Frame.encodedSize(bodyCount: payload.count)
        return ByteChunk(capacity: size) { buffer in
            Frame.writeHeader(
                into: buffer, at: 0, ver: ver, op: method, seq: seq, bodyCount: payload.count)
            payload.withUnsafeBytes { source in
                guard let base = source.baseAddress, !source.isEmpty else { return }
                (buffer.baseAddress! + Frame.headerSize).copyMemory(
                    from: base, byteCount: source.count)
            }
            return size
        }
    }

    /// The UTF-8 body of an error reply, cut to `maxErrorMessageBytes`.
    static func errorBody(_ message: String) -> [UInt8] {
        Array(message.utf8.prefix(maxErrorMessageBytes))
    }

    /// Whole milliseconds in `duration`, clamped to 0...Int.max.
    static func millis(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        let whole = Int(clamping: seconds).multipliedReportingOverflow(by: 1000)
        let total = whole.partialValue.addingReportingOverflow(
            Int(attoseconds / 1_000_000_000_000_000))
        return whole.overflow || total.overflow ? Int.max : total.partialValue
    }
}

/// Sets TCP keepalive on an RPC socket: both ends are long-lived and often idle, so a peer
/// that vanished without a reset (host down, cable pulled) is noticed after about a minute
/// (30 s idle, then 3 probes 10 s apart) instead of never. Failures are ignored: keepalive
/// is a safety net, the call timeouts still apply.
func enableRPCKeepAlive(_ fd: Int32) {
    let options: [(Int32, Int32, Int32, String)] = [
        (SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE"),
        (Int32(IPPROTO_TCP), TCP_KEEPIDLE, 30, "TCP_KEEPIDLE"),
        (Int32(IPPROTO_TCP), TCP_KEEPINTVL, 10, "TCP_KEEPINTVL"),
        (Int32(IPPROTO_TCP), TCP_KEEPCNT, 3, "TCP_KEEPCNT"),
    ]
    for (level, name, value, label) in options {
        try? System.setSocketOption(fd, level: level, name: name, value: value, label: label)
    }
}
