import IMCore

/// Writes WebSocket frames (RFC 6455 §5.2).
///
/// Server frames are unmasked, FIN set, and written straight into a `ByteChunk` (header and
/// payload in one allocation), so a push encoded once can be queued on many connections.
/// Client frames are masked with a fresh random key each (RFC 6455 §5.3) and returned as
/// arrays; they are for `imctl client` and tests.
public enum WebSocketEncoder {
    /// The longest payload a control frame may carry.
    public static let maxControlPayload = 125

    /// The longest close reason (the close payload also holds the 2-byte code).
    public static let maxCloseReasonBytes = maxControlPayload - 2

    /// Bytes of the header of a frame with `payloadCount` bytes: 2, plus 2 from 126 bytes,
    /// plus 8 from 65,536 bytes, plus 4 when masked.
    public static func headerSize(payloadCount: Int, masked: Bool = false) -> Int {
        let lengthBytes: Int
        switch payloadCount {
        case ..<126: lengthBytes = 0
        case ...0xFFFF: lengthBytes = 2
        default: lengthBytes = 8
        }
        return 2 + lengthBytes + (masked ? 4 : 0)
    }

    /// Writes a frame header at the start of `buffer` and returns its size. The length uses
    /// the shortest form, as RFC 6455 requires.
    ///
    /// - Parameters:
    ///   - fin: whether this is the last frame of its message (default true).
    ///   - maskKey: the masking key (big-endian, its high byte first on the wire), or nil for
    ///     an unmasked (server) frame.
    /// - Precondition: `buffer` holds the header and `payloadCount >= 0`.
    @discardableResult
    public static func writeHeader(
        into buffer: UnsafeMutableRawBufferPointer, opcode: WebSocketOpcode, fin: Bool = true,
        payloadCount: Int, maskKey: UInt32? = nil
    ) -> Int {
        let size = headerSize(payloadCount: payloadCount, masked: maskKey != nil)
        precondition(payloadCount >= 0 && buffer.count >= size, "WebSocket header does not fit")

        buffer[0] = (fin ? 0x80 : 0) | opcode.rawValue
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        var offset = 2
        switch payloadCount {
        case ..<126:
            buffer[1] = maskBit | UInt8(payloadCount)
        case ...0xFFFF:
            buffer[1] = maskBit | 126
            buffer.storeBytes(of: UInt16(payloadCount).bigEndian, toByteOffset: 2, as: UInt16.self)
            offset = 4
        default:
            buffer[1] = maskBit | 127
            buffer.storeBytes(of: UInt64(payloadCount).bigEndian, toByteOffset: 2, as: UInt64.self)
            offset = 10
        }
        if let maskKey {
            buffer.storeBytes(of: maskKey.bigEndian, toByteOffset: offset, as: UInt32.self)
        }
        return size
    }
}

// MARK: - Server frames

extension WebSocketEncoder {
    /// One unmasked final frame whose payload `fill` writes: `fill` gets exactly
    /// `payloadCount` bytes right after the header and returns how many it wrote, which must be
    /// all of them. One allocation.
    public static func frame(
        _ opcode: WebSocketOpcode, payloadCount: Int,
        fill: (UnsafeMutableRawBufferPointer) -> Int
    ) -> ByteChunk {
        let header = headerSize(payloadCount: payloadCount)
        return ByteChunk(capacity: header + payloadCount) { buffer in
            writeHeader(into: buffer, opcode: opcode, payloadCount: payloadCount)
            let written = fill(UnsafeMutableRawBufferPointer(rebasing: buffer[header...]))
            precondition(written == payloadCount, "WebSocket payload size mismatch")
            return header + payloadCount
        }
    }

    /// One unmasked final frame carrying a copy of `payload`.
    ///
    /// - Precondition: control frames (close, ping, pong) carry at most 125 bytes.
    public static func frame(_ opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer)
        -> ByteChunk
    {
        precondition(
            !opcode.isControl || payload.count <= maxControlPayload,
            "control frame payload over 125 bytes")
        return frame(opcode, payloadCount: payload.count) { target in
            if let base = payload.baseAddress, !payload.isEmpty {
                target.baseAddress!.copyMemory(from: base, byteCount: payload.count)
            }
            return payload.count
        }
    }

    /// A text message in one frame. The caller guarantees `payload` is valid UTF-8.
    public static func text(_ payload: [UInt8]) -> ByteChunk {
        payload.withUnsafeBytes { frame(.text, payload: $0) }
    }

    public static func binary(_ payload: [UInt8]) -> ByteChunk {
        payload.withUnsafeBytes { frame(.binary, payload: $0) }
    }

    /// - Precondition: `payload.count <= 125`.
    public static func ping(_ payload: [UInt8] = []) -> ByteChunk {
        payload.withUnsafeBytes { frame(.ping, payload: $0) }
    }

    /// The answer to a ping, carrying its payload. - Precondition: `payload.count <= 125`.
    public static func pong(_ payload: [UInt8]) -> ByteChunk {
        payload.withUnsafeBytes { frame(.pong, payload: $0) }
    }

    /// A close frame with `code` and `reason`, the reason cut to 123 bytes on a character
    /// boundary.
    public static func close(code: UInt16, reason: String = "") -> ByteChunk {
        closePayload(code: code, reason: reason).withUnsafeBytes { frame(.close, payload: $0) }
    }

    /// The payload of a close frame: the code big-endian, then at most 123 bytes of `reason`
    /// (cut on a character boundary).
    public static func closePayload(code: UInt16, reason: String) -> [UInt8] {
        var payload = [UInt8(code >> 8), UInt8(code & 0xFF)]
        var used = 0
        for scalar in reason.unicodeScalars {
            let encoded = Array(String(scalar).utf8)
            guard used + encoded.count <= maxCloseReasonBytes else { break }
            payload += encoded
            used += encoded.count
        }
        return payload
    }
}

// MARK: - Client frames

extension WebSocketEncoder {
    /// One masked frame, as a client sends it. `fin: false` and `.continuation` build a
    /// fragmented message. The default key is random (the system generator), as RFC 6455
    /// requires of clients.
    public static func maskedFrame(
        _ opcode: WebSocketOpcode, payload: [UInt8], fin: Bool = true,
        maskKey: UInt32 = UInt32.random(in: .min ... .max)
    ) -> [UInt8] {
        let header = headerSize(payloadCount: payload.count, masked: true)
        return [UInt8](unsafeUninitializedCapacity: header + payload.count) { buffer, count in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            writeHeader(
                into: raw, opcode: opcode, fin: fin, payloadCount: payload.count,
                maskKey: maskKey)
            let body = UnsafeMutableRawBufferPointer(rebasing: raw[header...])
            payload.withUnsafeBytes { body.copyMemory(from: $0) }
            WebSocketMasking.apply(key: maskKey, phase: 0, to: body)
            count = header + payload.count
        }
    }

    /// A masked close frame; see `closePayload(code:reason:)`.
    public static func maskedClose(code: UInt16, reason: String = "") -> [UInt8] {
        maskedFrame(.close, payload: closePayload(code: code, reason: reason))
    }
}
