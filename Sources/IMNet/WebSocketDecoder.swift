import IMCore

/// Turns a WebSocket byte stream into messages and control frames (RFC 6455 §5), whatever
/// the read boundaries.
///
/// Frame layout (RFC 6455 §5.2):
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-------+-+-------------+-------------------------------+
/// |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
/// |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
/// |N|V|V|V|       |S|             |   (if payload len==126/127)   |
/// | |1|2|3|       |K|             |                               |
/// +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
/// |     Extended payload length continued, if payload len == 127  |
/// + - - - - - - - - - - - - - - - +-------------------------------+
/// |                               | Masking-key, if MASK set to 1 |
/// +-------------------------------+-------------------------------+
/// | Masking-key (continued)       |          Payload Data         |
/// +-------------------------------- - - - - - - - - - - - - - - - +
/// ```
///
/// Rules (each violation throws a `WebSocketError` with the close code to send):
/// - RSV bits must be zero: no extension is ever negotiated (1002).
/// - Reserved opcodes are refused (1002).
/// - A server's decoder (`role: .server`) requires masked frames, a client's requires
///   unmasked ones (1002).
/// - A 64-bit length must have its high bit clear (1002). Lengths in a longer form than
///   needed are accepted (RFC 6455 binds the sender, not the receiver).
/// - Control frames must not be fragmented and carry at most 125 bytes (1002); they may come
///   between the fragments of a data message.
/// - A continuation frame needs an open fragmented message, and a new text or binary frame
///   must not start while one is open (1002).
/// - A message larger than `maxMessageSize` is refused as soon as a frame header announces
///   it, before any of its payload is buffered (1009).
/// - Text messages must be valid UTF-8 across all their fragments; checked as bytes arrive, so
///   an invalid byte fails at once (1007).
/// - A close frame's payload is empty, or a 2-byte code allowed on the wire
///   (`WebSocketCloseCode.isAllowedOnWire`) followed by a UTF-8 reason (1002).
///
/// Memory: payload bytes are unmasked straight into the message being assembled, which
/// becomes the event's array (no second copy). Between calls the decoder keeps only what an
/// unfinished frame or message needs (at most 14 header bytes, the received part of the
/// message, a control payload); when idle it holds no heap memory. After a close frame it
/// ignores further input (`isClosed`). After a throw it drops everything and every later call
/// throws the same error: the connection is meant to be closed.
public struct WebSocketDecoder: Sendable {
    /// The end this decoder works for: `.server` decodes a client's (masked) frames.
    public let role: WebSocketRole

    /// The largest message accepted, in bytes, after joining its fragments.
    public let maxMessageSize: Int

    /// Whether a close frame was decoded; input after it is ignored.
    public private(set) var isClosed = false

    /// Header bytes of a frame whose header is not complete yet.
    private var partialHeader: [UInt8] = []
    /// The frame whose payload is being read (nil between frames).
    private var frame: FrameProgress?
    /// The opcode of the data message being assembled (nil when none is open).
    private var messageOpcode: WebSocketOpcode?
    private var message: [UInt8] = []
    private var textValidator = UTF8Validator()
    /// The payload of the control frame being read.
    private var control: [UInt8] = []
    private var failure: WebSocketError?

    /// - Precondition: `maxMessageSize >= 0`.
    public init(role: WebSocketRole, maxMessageSize: Int) {
        precondition(maxMessageSize >= 0, "maxMessageSize must not be negative")
        self.role = role
        self.maxMessageSize = maxMessageSize
    }

    /// Whether a frame or a fragmented message is partly received.
    public var hasPartialMessage: Bool {
        !partialHeader.isEmpty || frame != nil || messageOpcode != nil
    }

    /// Bytes held for unfinished frames and messages (0 when idle).
    public var bufferedByteCount: Int { partialHeader.count + message.count + control.count }

    /// Heap bytes reserved by the decoder's buffers; 0 whenever nothing is partly received.
    var heldCapacity: Int { partialHeader.capacity + message.capacity + control.capacity }

    /// Feeds `input` and calls `onEvent` for each message or control frame it completes, in
    /// order.
    ///
    /// - Throws: `WebSocketError` for a protocol violation, or whatever `onEvent` throws.
    ///   Either way the decoder is unusable afterwards (later calls throw the same
    ///   `WebSocketError`, or an internal error after a callback's error).
    public mutating func decode(
        _ input: UnsafeRawBufferPointer, _ onEvent: (WebSocketEvent) throws -> Void
    ) throws {
        if let failure { throw failure }
        guard !isClosed else { return }

        do {
            try decodeFrames(input, onEvent)
        } catch {
            fail(with: error)
            throw error
        }
    }

    /// Feeds `input` (copied first unless its storage is contiguous); see
    /// `decode(_: UnsafeRawBufferPointer, _:)`.
    public mutating func decode(
        _ input: some Collection<UInt8>, _ onEvent: (WebSocketEvent) throws -> Void
    ) throws {
        let done: Void? = try input.withContiguousStorageIfAvailable { bytes in
            try decode(UnsafeRawBufferPointer(bytes), onEvent)
        }
        if done == nil {
            try Array(input).withUnsafeBytes { try decode($0, onEvent) }
        }
    }

    private mutating func decodeFrames(
        _ input: UnsafeRawBufferPointer, _ onEvent: (WebSocketEvent) throws -> Void
    ) throws {
        var offset = 0
        while !isClosed {
            if frame == nil {
                guard let header = readHeader(input, &offset) else { return }
                try start(header)
            }

            offset += try appendPayload(from: input, at: offset)
            guard let current = frame, current.remaining == 0 else { return }
            try finish(current, onEvent)
        }
    }

    private mutating func fail(with error: any Error) {
        failure =
            error as? WebSocketError
            ?? WebSocketError(
                closeCode: WebSocketCloseCode.internalError,
                reason: "message handler failed")
        partialHeader = []
        frame = nil
        messageOpcode = nil
        message = []
        control = []
    }
}

// MARK: - Headers

/// A parsed frame header.
struct WebSocketFrameHeader: Equatable {
    var fin: Bool
    var reservedBits: UInt8
    var opcode: WebSocketOpcode
    var maskKey: UInt32?
    var payloadLength: UInt64

    /// Bytes of the header that starts with `first` and `second`: 2, plus 2 or 8 for an
    /// extended length, plus 4 for a mask key.
    static func size(first: UInt8, second: UInt8) -> Int {
        let lengthBytes: Int
        switch second & 0x7F {
        case 126: lengthBytes = 2
        case 127: lengthBytes = 8
        default: lengthBytes = 0
        }
        return 2 + lengthBytes + (second & 0x80 != 0 ? 4 : 0)
    }

    /// Reads a header from `bytes`, which holds all of it (`size(first:second:)` bytes).
    init(_ bytes: UnsafeRawBufferPointer) {
        fin = bytes[0] & 0x80 != 0
        reservedBits = bytes[0] >> 4 & 0x7
        opcode = WebSocketOpcode(rawValue: bytes[0] & 0x0F)

        var offset = 2
        switch bytes[1] & 0x7F {
        case 126:
            payloadLength = UInt64(
                UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
            offset = 4
        case 127:
            payloadLength = UInt64(
                bigEndian: bytes.loadUnaligned(fromByteOffset: 2, as: UInt64.self))
            offset = 10
        case let short:
            payloadLength = UInt64(short)
        }

        maskKey = nil
        if bytes[1] & 0x80 != 0 {
            let key = bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            maskKey = UInt32(bigEndian: key)
        }
    }
}

/// The payload still to read for the current frame.
private struct FrameProgress {
    var header: WebSocketFrameHeader
    var remaining: Int
    /// Payload bytes read so far, for the mask phase.
    var received = 0
}

extension WebSocketDecoder {
    /// Returns the next frame's header once all of it is known, reading it straight from the
    /// input when it is there whole, else gathering it in `partialHeader` across calls.
    private mutating func readHeader(
        _ input: UnsafeRawBufferPointer, _ offset: inout Int
    ) -> WebSocketFrameHeader? {
        let available = input.count - offset
        if partialHeader.isEmpty, available >= 2 {
            let size = WebSocketFrameHeader.size(first: input[offset], second: input[offset + 1])
            if available >= size {
                defer { offset += size }
                return WebSocketFrameHeader(UnsafeRawBufferPointer(rebasing: input[offset...]))
            }
        }
        return gatherHeader(input, &offset)
    }

    private mutating func gatherHeader(
        _ input: UnsafeRawBufferPointer, _ offset: inout Int
    ) -> WebSocketFrameHeader? {
        offset += fillHeader(toCount: 2, from: input, at: offset)
        guard partialHeader.count >= 2 else { return nil }

        let size = WebSocketFrameHeader.size(first: partialHeader[0], second: partialHeader[1])
        offset += fillHeader(toCount: size, from: input, at: offset)
        guard partialHeader.count == size else { return nil }

        let header = partialHeader.withUnsafeBytes { WebSocketFrameHeader($0) }
        partialHeader = []
        return header
    }

    private mutating func fillHeader(
        toCount count: Int, from input: UnsafeRawBufferPointer, at offset: Int
    ) -> Int {
        let taken = min(count - partialHeader.count, input.count - offset)
        guard taken > 0 else { return 0 }

        if partialHeader.isEmpty { partialHeader.reserveCapacity(14) }
        partialHeader.append(
            contentsOf: UnsafeRawBufferPointer(rebasing: input[offset..<offset + taken]))
        return taken
    }

    /// Checks a header against the rules and makes it the current frame.
    private mutating func start(_ header: WebSocketFrameHeader) throws {
        try validateFraming(header)
        if header.opcode.isControl {
            try validateControl(header)
        } else {
            try validateData(header)
        }

        if header.opcode == .text || header.opcode == .binary {
            messageOpcode = header.opcode
            textValidator = UTF8Validator()
        }
        frame = FrameProgress(header: header, remaining: Int(header.payloadLength))
    }

    private func validateFraming(_ header: WebSocketFrameHeader) throws {
        guard header.reservedBits == 0 else {
            throw WebSocketError.protocolError("reserved bits set without an extension")
        }
        guard header.opcode.isDefined else {
            throw WebSocketError.protocolError("\(header.opcode) is not defined")
        }
        switch role {
        case .server where header.maskKey == nil:
            throw WebSocketError.protocolError("client frame is not masked")
        case .client where header.maskKey != nil:
            throw WebSocketError.protocolError("server frame is masked")
        default:
            break
        }
        guard header.payloadLength >> 63 == 0 else {
            throw WebSocketError.protocolError("64-bit payload length has its high bit set")
        }
    }

    private func validateControl(_ header: WebSocketFrameHeader) throws {
        guard header.fin else {
            throw WebSocketError.protocolError("fragmented \(header.opcode) frame")
        }
        guard header.payloadLength <= 125 else {
            throw WebSocketError.protocolError("\(header.opcode) payload over 125 bytes")
        }
    }

    private func validateData(_ header: WebSocketFrameHeader) throws {
        if header.opcode == .continuation, messageOpcode == nil {
            throw WebSocketError.protocolError("continuation frame without a message")
        }
        if header.opcode != .continuation, messageOpcode != nil {
            throw WebSocketError.protocolError("new message inside a fragmented message")
        }

        let alreadyReceived = header.opcode == .continuation ? UInt64(message.count) : 0
        guard header.payloadLength <= UInt64(maxMessageSize) - alreadyReceived else {
            throw WebSocketError(
                closeCode: WebSocketCloseCode.messageTooBig,
                reason: "message over the \(maxMessageSize)-byte limit")
        }
    }
}

// MARK: - Payloads

extension WebSocketDecoder {
    /// Unmasks as much of the current frame's payload as `input` holds into the message or
    /// control buffer, checking text as it goes. Returns how many input bytes it used.
    private mutating func appendPayload(
        from input: UnsafeRawBufferPointer, at offset: Int
    ) throws -> Int {
        guard var current = frame else { return 0 }
        let taken = min(current.remaining, input.count - offset)
        guard taken > 0 else { return 0 }

        let bytes = UnsafeRawBufferPointer(rebasing: input[offset..<offset + taken])
        let whole = taken == current.remaining && current.received == 0
        if current.header.opcode.isControl {
            Self.append(bytes, to: &control, key: current.header.maskKey, phase: current.received)
        } else {
            // Reserve the exact size only for a first frame that arrives whole: exact reserves
            // on later fragments would regrow the buffer once per fragment.
            if whole, message.isEmpty { message.reserveCapacity(taken) }
            Self.append(bytes, to: &message, key: current.header.maskKey, phase: current.received)
            if messageOpcode == .text { try checkText(lastBytes: taken) }
        }

        current.remaining -= taken
        current.received += taken
        frame = current
        return taken
    }

    private static func append(
        _ bytes: UnsafeRawBufferPointer, to buffer: inout [UInt8], key: UInt32?, phase: Int
    ) {
        let start = buffer.count
        buffer.append(contentsOf: bytes)
        guard let key else { return }

        buffer.withUnsafeMutableBytes { all in
            WebSocketMasking.apply(
                key: key, phase: phase, to: UnsafeMutableRawBufferPointer(rebasing: all[start...]))
        }
    }

    /// Validates the last `count` bytes of the text message as the continuation of the rest.
    private mutating func checkText(lastBytes count: Int) throws {
        let valid = message.withUnsafeBytes { all in
            textValidator.feed(UnsafeRawBufferPointer(rebasing: all[(all.count - count)...]))
        }
        guard valid else { throw Self.invalidText }
    }

    private static let invalidText = WebSocketError(
        closeCode: WebSocketCloseCode.invalidPayloadData,
        reason: "text message is not valid UTF-8")

    /// The current frame's payload is complete: emit what it finishes.
    private mutating func finish(
        _ finished: FrameProgress, _ onEvent: (WebSocketEvent) throws -> Void
    ) throws {
        frame = nil
        let header = finished.header
        if header.opcode.isControl {
            let payload = control
            control = []
            try onEvent(try controlEvent(header.opcode, payload))
            return
        }

        guard header.fin else { return }
        if messageOpcode == .text, !textValidator.isAtScalarBoundary { throw Self.invalidText }

        let payload = message
        let opcode = messageOpcode
        message = []
        messageOpcode = nil
        try onEvent(opcode == .text ? .text(payload) : .binary(payload))
    }

    private mutating func controlEvent(
        _ opcode: WebSocketOpcode, _ payload: [UInt8]
    ) throws -> WebSocketEvent {
        switch opcode {
        case .ping:
            return .ping(payload)
        case .pong:
            return .pong(payload)
        default:
            let event = try Self.closeEvent(payload)
            isClosed = true
            return event
        }
    }

    private static func closeEvent(_ payload: [UInt8]) throws -> WebSocketEvent {
        guard !payload.isEmpty else { return .close(code: nil, reason: "") }
        guard payload.count >= 2 else {
            throw WebSocketError.protocolError("close payload of one byte")
        }

        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        guard WebSocketCloseCode.isAllowedOnWire(code) else {
            throw WebSocketError.protocolError("close code \(code) is not allowed")
        }
        let reason = payload[2...]
        guard reason.withUnsafeBytes({ UTF8Validator.isValid($0) }) else {
            throw WebSocketError.protocolError("close reason is not valid UTF-8")
        }
        return .close(code: code, reason: String(decoding: reason, as: UTF8.self))
    }
}
