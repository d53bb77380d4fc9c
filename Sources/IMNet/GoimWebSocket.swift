import IMCore

/// How a goim client speaks over WebSocket, fixed by the type of its first message: text
/// messages carry goim v1.2's JSON, binary messages carry the TCP frame layout.
public enum GoimWebSocketMode: Sendable, Equatable {
    /// Text messages: one JSON object in (`GoimJSON.parseRequest`), JSON arrays out
    /// (`GoimJSONMessage`).
    case json
    /// Binary messages, each exactly one 16-byte-header frame, both ways.
    case binary

    /// The mode a connection takes from the opcode of its first message.
    public init(firstMessage opcode: WebSocketOpcode) {
        self = opcode == .binary ? .binary : .json
    }
}

/// goim frames in WebSocket messages: reading a client's requests, and encoding replies and
/// pushes once into `ByteChunk`s that hold complete WebSocket frames.
///
/// Close codes for a message that is valid WebSocket but not a valid goim request: 1008
/// (policy violation) for malformed JSON or a malformed binary frame, 1009 for a binary
/// frame whose body is over the limit. A message of the other type than the connection's
/// mode is the caller's to refuse, with 1003 (unsupported data).
public enum GoimWebSocket {
    /// The request in a text message (goim v1.2 JSON); see `GoimJSON.parseRequest`.
    ///
    /// - Throws: `WebSocketError` with 1008.
    public static func request(fromText message: [UInt8]) throws -> Frame {
        do {
            return try GoimJSON.parseRequest(message)
        } catch let error as GoimJSONError {
            throw WebSocketError(
                closeCode: WebSocketCloseCode.policyViolation, reason: reason(error.description))
        }
    }

    /// The request in a binary message: exactly one frame, whose packLen must equal the
    /// message length (goim v2 cut the body by packLen and could read stale bytes), header
    /// length 16, body at most `maxBodySize`.
    ///
    /// - Throws: `WebSocketError` with 1008 (malformed frame) or 1009 (body too large).
    public static func request(fromBinary message: [UInt8], maxBodySize: Int) throws -> Frame {
        var decoder = FrameDecoder(maxBodySize: maxBodySize)
        var frames: [Frame] = []
        do {
            try message.withUnsafeBytes { bytes in
                try decoder.decode(bytes) { frames.append($0) }
            }
        } catch let error as FrameError {
            throw webSocketError(for: error)
        }

        guard frames.count == 1, !decoder.hasPartialFrame else {
            throw WebSocketError(
                closeCode: WebSocketCloseCode.policyViolation,
                reason: "binary message must hold exactly one goim frame")
        }
        return frames[0]
    }

    /// A reply (auth, heartbeat, echo, test) as one WebSocket message.
    public static func reply(_ frame: Frame, mode: GoimWebSocketMode) -> ByteChunk {
        switch mode {
        case .json:
            return jsonFrame(GoimJSONMessage.reply(frame))
        case .binary:
            return WebSocketEncoder.frame(.binary, payloadCount: frame.encodedSize) { buffer in
                Frame.writeHeader(
                    into: buffer, at: 0, ver: frame.ver, op: frame.op, seq: frame.seq,
                    bodyCount: frame.body.count)
                frame.body.withUnsafeBytes {
                    UnsafeMutableRawBufferPointer(rebasing: buffer[Frame.headerSize...])
                        .copyMemory(from: $0)
                }
                return frame.encodedSize
            }
        }
    }

    /// Pushes (op 5, ver 0, seq 0) encoded once for every connection of a mode: JSON mode
    /// gets one text message holding an array of all the bodies (`GoimJSONMessage.pushBatch`);
    /// binary mode gets one binary message per body, back to back in the same chunk.
    public static func pushes(_ bodies: [[UInt8]], mode: GoimWebSocketMode) -> ByteChunk {
        switch mode {
        case .json: return jsonFrame(GoimJSONMessage.pushBatch(bodies))
        case .binary: return binaryPushes(bodies)
        }
    }

    /// A JSON message as one text frame, header and payload in one allocation.
    public static func jsonFrame(_ message: GoimJSONMessage) -> ByteChunk {
        WebSocketEncoder.frame(.text, payloadCount: message.encodedCount) {
            message.write(into: $0)
        }
    }

    private static func binaryPushes(_ bodies: [[UInt8]]) -> ByteChunk {
        let total = bodies.reduce(0) { total, body in
            let size = Frame.encodedSize(bodyCount: body.count)
            return total + WebSocketEncoder.headerSize(payloadCount: size) + size
        }
        return ByteChunk(capacity: total) { buffer in
            var offset = 0
            for body in bodies {
                let size = Frame.encodedSize(bodyCount: body.count)
                offset += WebSocketEncoder.writeHeader(
                    into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]),
                    opcode: .binary, payloadCount: size)
                offset += body.withUnsafeBytes {
                    Frame.writePush(body: $0, into: buffer, at: offset)
                }
            }
            return offset
        }
    }

    private static func webSocketError(for error: FrameError) -> WebSocketError {
        switch error {
        case .bodyTooLarge:
            return WebSocketError(
                closeCode: WebSocketCloseCode.messageTooBig, reason: reason(error.description))
        default:
            return WebSocketError(
                closeCode: WebSocketCloseCode.policyViolation, reason: reason(error.description))
        }
    }

    /// `text` cut to what a close frame can carry.
    private static func reason(_ text: String) -> String {
        var reason = ""
        for character in text {
            guard reason.utf8.count + character.utf8.count <= WebSocketEncoder.maxCloseReasonBytes
            else { break }
            reason.append(character)
        }
        return reason
    }
}
