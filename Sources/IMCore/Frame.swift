/// One goim v1.2 frame: the unit of the TCP client protocol and of the internal RPC.
///
/// Wire layout (all integers big-endian):
///
/// ```
///  0               4       6       8               12              16
///  +---------------+-------+-------+---------------+---------------+-------------+
///  |    packLen    | hlen  |  ver  |      op       |      seq      | body ...    |
///  |    Int32      | Int16 | Int16 |     Int32     |     Int32     | packLen-16  |
///  +---------------+-------+-------+---------------+---------------+-------------+
/// ```
///
/// `packLen` is the whole frame (16 + body) and `hlen` is always 16. Pushes are written with
/// ver 0, op 5 (`Operation.push`), seq 0.
public struct Frame: Sendable, Equatable {
    /// Size of the fixed header, and the value of the header-length field.
    public static let headerSize = 16

    /// The largest body a frame can describe (packLen is an Int32).
    public static let maxEncodableBodySize = Int(Int32.max) - headerSize

    public var ver: Int16
    public var op: Int32
    public var seq: Int32
    public var body: [UInt8]

    public init(ver: Int16 = 1, op: Int32, seq: Int32 = 0, body: [UInt8] = []) {
        self.ver = ver
        self.op = op
        self.seq = seq
        self.body = body
    }

    /// A push as clients receive it: ver 0, op 5, seq 0.
    public static func push(_ body: [UInt8]) -> Frame {
        Frame(ver: 0, op: Operation.push, seq: 0, body: body)
    }

    /// The answer to this frame: same ver and seq (goim echoes both), the given op and body.
    public func reply(op: Int32, body: [UInt8] = []) -> Frame {
        Frame(ver: ver, op: op, seq: seq, body: body)
    }

    /// Bytes this frame takes on the wire.
    public var encodedSize: Int { Frame.encodedSize(bodyCount: body.count) }

    /// Appends the encoded frame to `buffer`.
    ///
    /// - Precondition: `body.count <= Frame.maxEncodableBodySize`.
    public func encode(into buffer: inout [UInt8]) {
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: Frame.headerSize))
        buffer.append(contentsOf: body)

        buffer.withUnsafeMutableBytes { raw in
            Frame.writeHeader(
                into: raw, at: start, ver: ver, op: op, seq: seq, bodyCount: body.count)
        }
    }

    /// The encoded frame as a new array (one allocation).
    public var encoded: [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(encodedSize)
        encode(into: &buffer)
        return buffer
    }
}

// MARK: - Encoding into raw memory

extension Frame {
    /// Bytes a frame with a body of `bodyCount` bytes takes on the wire.
    public static func encodedSize(bodyCount: Int) -> Int {
        headerSize + bodyCount
    }

    /// Writes a 16-byte header at `offset` of `buffer` for a body of `bodyCount` bytes.
    ///
    /// - Precondition: `offset + 16 <= buffer.count` and
    ///   `bodyCount <= Frame.maxEncodableBodySize`.
    public static func writeHeader(
        into buffer: UnsafeMutableRawBufferPointer, at offset: Int,
        ver: Int16, op: Int32, seq: Int32, bodyCount: Int
    ) {
        precondition(bodyCount >= 0 && bodyCount <= maxEncodableBodySize, "frame body too large")
        precondition(
            offset >= 0 && offset + headerSize <= buffer.count, "frame header out of bounds")

        let packLen = Int32(headerSize + bodyCount)
        buffer.storeBytes(of: packLen.bigEndian, toByteOffset: offset, as: Int32.self)
        buffer.storeBytes(of: Int16(headerSize).bigEndian, toByteOffset: offset + 4, as: Int16.self)
        buffer.storeBytes(of: ver.bigEndian, toByteOffset: offset + 6, as: Int16.self)
        buffer.storeBytes(of: op.bigEndian, toByteOffset: offset + 8, as: Int32.self)
        buffer.storeBytes(of: seq.bigEndian, toByteOffset: offset + 12, as: Int32.self)
    }

    /// Writes a complete push frame (ver 0, op 5, seq 0) carrying `body` at `offset` of
    /// `buffer` and returns the bytes written (`encodedSize(bodyCount: body.count)`).
    ///
    /// - Precondition: the frame fits in `buffer` from `offset`.
    @discardableResult
    public static func writePush(
        body: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer, at offset: Int
    ) -> Int {
        let size = encodedSize(bodyCount: body.count)
        precondition(offset + size <= buffer.count, "push frame does not fit the buffer")

        writeHeader(
            into: buffer, at: offset, ver: 0, op: Operation.push, seq: 0, bodyCount: body.count)
        if let source = body.baseAddress, !body.isEmpty {
            (buffer.baseAddress! + offset + headerSize).copyMemory(
                from: source, byteCount: body.count)
        }
        return size
    }

    /// Every body as a push frame (ver 0, op 5, seq 0), concatenated in order into one chunk:
    /// what a TCP client receives for a batch. One allocation, no intermediate arrays.
    public static func pushBatchChunk(_ bodies: [[UInt8]]) -> ByteChunk {
        let total = bodies.reduce(0) { $0 + encodedSize(bodyCount: $1.count) }
        return ByteChunk(capacity: total) { buffer in
            var offset = 0
            for body in bodies {
                offset += body.withUnsafeBytes { writePush(body: $0, into: buffer, at: offset) }
            }
            return offset
        }
    }
}
