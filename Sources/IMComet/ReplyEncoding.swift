import IMCore

/// Encodes reply frames straight into `ByteChunk`s, ready for a connection's outbound queue.
enum ReplyEncoding {
    /// goim's answer to op 254.
    static let testBody: [UInt8] = Array(#"{"test":"come on"}"#.utf8)

    /// One frame in a chunk of its own. The body is copied in, so the reply owns its bytes
    /// whatever happens to the request's buffer afterwards (goim echoed straight from its read
    /// buffer and corrupted pipelined echoes).
    static func frame(ver: Int16, op: Int32, seq: Int32, body: [UInt8]) -> ByteChunk {
        let size = Frame.encodedSize(bodyCount: body.count)
        return ByteChunk(capacity: size) { buffer in
            Frame.writeHeader(
                into: buffer, at: 0, ver: ver, op: op, seq: seq, bodyCount: body.count)
            body.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: buffer[Frame.headerSize...])
                    .copyMemory(from: source)
            }
            return size
        }
    }
}
