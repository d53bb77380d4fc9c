import IMCore

/// Data from the server that a simulated client cannot make sense of; the client is closed.
struct SimulateWireError: Error, Sendable, Equatable {
    var reason: String

    init(_ reason: String) {
        self.reason = reason
    }
}

/// What one read delivered to a simulated client.
struct ReceiveTally {
    /// Wall-clock time of the read, Unix nanoseconds (the pusher stamps bodies with it).
    var nowNanos: Int64
    var messages = 0
    var authReplies = 0
    var heartbeatReplies = 0
}

/// In-place parsing of what goim servers send clients: TCP frames (alone, back to back, or
/// wrapped in a raw op-9/op-11 frame), WebSocket frames, and goim v1.2 JSON arrays. Nothing is
/// copied; bodies stamped by the pusher (`pushBody`) are turned into latency samples.
enum SimulateWire {
    /// The largest frame or WebSocket message accepted from the server.
    static let maxMessageSize = 16 << 20

    /// goim v2's raw op: the body holds complete frames (v1.2's raw op 11 is accepted too).
    static let rawOps: Set<Int32> = [9, Operation.raw]

    // MARK: Push bodies

    private static let bodyPrefix = Array(#"{"sim_seq":"#.utf8)
    private static let sentKey = Array(#","sent_ns":"#.utf8)

    /// The body the pusher sends: `{"sim_seq":SEQ,"sent_ns":UNIX_NANOS}`, valid JSON so a
    /// WebSocket JSON client receives it as an object.
    static func pushBody(sequence: Int, sentNanos: Int64) -> [UInt8] {
        Array(#"{"sim_seq":\#(sequence),"sent_ns":\#(sentNanos)}"#.utf8)
    }

    /// The send time in a pusher body, nil for any other body.
    static func sentNanos(in body: UnsafeRawBufferPointer) -> Int64? {
        var index = 0
        guard hasPrefix(body, bodyPrefix, at: 0) else { return nil }
        index = bodyPrefix.count
        guard skipDigits(body, &index) != nil, hasPrefix(body, sentKey, at: index) else {
            return nil
        }
        index += sentKey.count
        guard let sent = skipDigits(body, &index), index < body.count,
            body[index] == UInt8(ascii: "}")
        else { return nil }
        return sent
    }

    private static func hasPrefix(
        _ bytes: UnsafeRawBufferPointer, _ prefix: [UInt8], at offset: Int
    ) -> Bool {
        guard bytes.count - offset >= prefix.count else { return false }
        for index in prefix.indices where bytes[offset + index] != prefix[index] { return false }
        return true
    }

    /// Reads decimal digits at `index` (at least one) and their value; nil when there are
    /// none or the value does not fit an Int64.
    private static func skipDigits(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) -> Int64? {
        var value: Int64 = 0
        let start = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = shifted.addingReportingOverflow(Int64(bytes[index] &- 48))
            guard !overflow, !carry else { return nil }
            value = sum
            index += 1
        }
        return index > start ? value : nil
    }

    /// Counts a push and records its latency when the pusher stamped it.
    static func countPush(
        body: UnsafeRawBufferPointer, _ tally: inout ReceiveTally,
        _ latency: inout LatencyHistogram
    ) {
        tally.messages += 1
        guard let sent = sentNanos(in: body) else { return }
        let micros = tally.nowNanos > sent ? (tally.nowNanos - sent) / 1000 : 0
        latency.record(micros: UInt64(micros))
    }

    // MARK: TCP frames

    /// Walks the complete frames at the start of `bytes` and returns how many bytes they
    /// took; a partial frame at the end is left for the next read.
    static func walkFrames(
        _ bytes: UnsafeRawBufferPointer, _ tally: inout ReceiveTally,
        _ latency: inout LatencyHistogram, insideRaw: Bool = false
    ) throws(SimulateWireError) -> Int {
        var offset = 0
        while bytes.count - offset >= Frame.headerSize {
            let packLength = Int(readBigEndian32(bytes, offset))
            let headerLength = Int(readBigEndian16(bytes, offset + 4))
            guard packLength >= Frame.headerSize, packLength <= maxMessageSize,
                headerLength >= Frame.headerSize, headerLength <= packLength
            else { throw SimulateWireError("invalid frame header from the server") }
            guard bytes.count - offset >= packLength else { break }

            let op = Int32(bitPattern: readBigEndian32(bytes, offset + 8))
            let body = UnsafeRawBufferPointer(
                rebasing: bytes[(offset + headerLength)..<(offset + packLength)])
            try handleFrame(op: op, body: body, &tally, &latency, insideRaw: insideRaw)
            offset += packLength
        }
        return offset
    }

    private static func handleFrame(
        op: Int32, body: UnsafeRawBufferPointer, _ tally: inout ReceiveTally,
        _ latency: inout LatencyHistogram, insideRaw: Bool
    ) throws(SimulateWireError) {
        switch op {
        case Operation.push:
            countPush(body: body, &tally, &latency)
        case Operation.authReply:
            tally.authReplies += 1
        case Operation.heartbeatReply:
            tally.heartbeatReplies += 1
        case _ where rawOps.contains(op) && !insideRaw:
            let used = try walkFrames(body, &tally, &latency, insideRaw: true)
            guard used == body.count else {
                throw SimulateWireError("a raw frame ends inside an inner frame")
            }
        default:
            break  // other ops (test replies, v2 business ops) are not counted
        }
    }

    private static func readBigEndian32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    private static func readBigEndian16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }
}

// MARK: - WebSocket frames

extension SimulateWire {
    /// One complete WebSocket frame found in a buffer.
    struct WebSocketFrameView: Equatable {
        var isFinal: Bool
        var opcode: UInt8
        var payload: Range<Int>
        /// Offset just past the frame.
        var end: Int
    }

    static let opcodeContinuation: UInt8 = 0
    static let opcodeText: UInt8 = 1
    static let opcodeBinary: UInt8 = 2
    static let opcodeClose: UInt8 = 8
    static let opcodePing: UInt8 = 9
    static let opcodePong: UInt8 = 10

    /// The frame starting at `offset`, nil while it is incomplete. Server frames must not be
    /// masked and use no extension bits.
    static func webSocketFrame(in bytes: UnsafeRawBufferPointer, at offset: Int)
        throws(SimulateWireError) -> WebSocketFrameView?
    {
        let available = bytes.count - offset
        guard available >= 2 else { return nil }
        let first = bytes[offset]
        let second = bytes[offset + 1]
        guard first & 0x70 == 0 else { throw SimulateWireError("WebSocket frame with RSV bits") }
        guard second & 0x80 == 0 else { throw SimulateWireError("masked WebSocket frame") }

        var headerLength = 2
        var length = Int(second & 0x7F)
        if length == 126 {
            guard available >= 4 else { return nil }
            length = Int(readBigEndian16(bytes, offset + 2))
            headerLength = 4
        } else if length == 127 {
            guard available >= 10 else { return nil }
            guard bytes[offset + 2] == 0, bytes[offset + 3] == 0, bytes[offset + 4] == 0,
                bytes[offset + 5] == 0
            else { throw SimulateWireError("WebSocket message too large") }
            length = Int(readBigEndian32(bytes, offset + 6))
            headerLength = 10
        }
        guard length <= maxMessageSize else {
            throw SimulateWireError("WebSocket message too large")
        }
        guard available >= headerLength + length else { return nil }

        let start = offset + headerLength
        return WebSocketFrameView(
            isFinal: first & 0x80 != 0, opcode: first & 0x0F, payload: start..<(start + length),
            end: start + length)
    }
}

// MARK: - goim v1.2 JSON messages

extension SimulateWire {
    /// Walks one server text message: a JSON array of `{"ver","op","seq","body"}` objects.
    /// Each op-5 object is a push; auth and heartbeat replies are noted.
    static func walkJSONMessage(
        _ message: UnsafeRawBufferPointer, _ tally: inout ReceiveTally,
        _ latency: inout LatencyHistogram
    ) throws(SimulateWireError) {
        var scanner = ServerJSONScanner(bytes: message)
        try scanner.expect(UInt8(ascii: "["))
        if try scanner.consume(UInt8(ascii: "]")) { return }
        repeat {
            let (op, body) = try scanner.readEntry()
            switch op {
            case Operation.push:
                countPush(body: UnsafeRawBufferPointer(rebasing: message[body]), &tally, &latency)
            case Operation.authReply: tally.authReplies += 1
            case Operation.heartbeatReply: tally.heartbeatReplies += 1
            default: break
            }
        } while try scanner.consumeSeparator(closing: UInt8(ascii: "]"))
    }
}

/// Just enough JSON scanning to find `op` and the extent of `body` in goim's server messages,
/// without copying or decoding anything else. Nesting is counted, not recursed, so deep input
/// cannot exhaust the stack.
private struct ServerJSONScanner {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    private static let opKey = Array(#""op""#.utf8)
    private static let bodyKey = Array(#""body""#.utf8)

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// One object: its `op` (0 when absent) and the byte range of its `body` value.
    mutating func readEntry() throws(SimulateWireError) -> (Int32, Range<Int>) {
        try expect(UInt8(ascii: "{"))
        var op: Int32 = 0
        var body = 0..<0
        if try consume(UInt8(ascii: "}")) { return (op, body) }
        repeat {
            skipWhitespace()
            let keyStart = index
            try skipString()
            let key = keyStart..<index
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            let valueStart = index
            try skipValue()
            if matches(key, Self.opKey) {
                op = try integer(in: valueStart..<index)
            } else if matches(key, Self.bodyKey) {
                body = valueStart..<index
            }
        } while try consumeSeparator(closing: UInt8(ascii: "}"))
        return (op, body)
    }

    private func matches(_ range: Range<Int>, _ expected: [UInt8]) -> Bool {
        guard range.count == expected.count else { return false }
        return zip(range, expected).allSatisfy { bytes[$0] == $1 }
    }

    private func integer(in range: Range<Int>) throws(SimulateWireError) -> Int32 {
        var value: Int64 = 0
        var negative = false
        for position in range {
            let byte = bytes[position]
            if position == range.lowerBound, byte == UInt8(ascii: "-") {
                negative = true
                continue
            }
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), value < 1 << 32 else {
                throw SimulateWireError("invalid op in a goim JSON message")
            }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return Int32(truncatingIfNeeded: negative ? -value : value)
    }

    mutating func expect(_ byte: UInt8) throws(SimulateWireError) {
        guard try consume(byte) else { throw SimulateWireError("malformed goim JSON message") }
    }

    mutating func consume(_ byte: UInt8) throws(SimulateWireError) -> Bool {
        skipWhitespace()
        guard index < bytes.count else { throw SimulateWireError("truncated goim JSON message") }
        guard bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// After a member or element: true for `,`, false for `closing`.
    mutating func consumeSeparator(closing: UInt8) throws(SimulateWireError) -> Bool {
        if try consume(UInt8(ascii: ",")) { return true }
        try expect(closing)
        return false
    }

    private mutating func skipWhitespace() {
        while index < bytes.count,
            bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D
                || bytes[index] == 0x09
        {
            index += 1
        }
    }

    private mutating func skipString() throws(SimulateWireError) {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
            throw SimulateWireError("expected a string in a goim JSON message")
        }
        index += 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"): index += 2
            case UInt8(ascii: "\""):
                index += 1
                return
            default: index += 1
            }
        }
        throw SimulateWireError("unterminated string in a goim JSON message")
    }

    private mutating func skipValue() throws(SimulateWireError) {
        guard index < bytes.count else { throw SimulateWireError("truncated goim JSON message") }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            try skipContainer()
        default:
            let start = index
            while index < bytes.count, !Self.endsScalar(bytes[index]) { index += 1 }
            guard index > start else { throw SimulateWireError("malformed goim JSON message") }
        }
    }

    private mutating func skipContainer() throws(SimulateWireError) {
        var depth = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                try skipString()
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 {
                    index += 1
                    return
                }
            default:
                break
            }
            index += 1
        }
        throw SimulateWireError("truncated goim JSON message")
    }

    private static func endsScalar(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09:
            return true
        default:
            return false
        }
    }
}
