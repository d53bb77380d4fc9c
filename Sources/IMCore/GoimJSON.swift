/// Why a goim JSON message could not be read.
///
/// A WebSocket server answers any of these by closing the connection with code 1008 (policy
/// violation): the WebSocket framing was fine (1002 is kept for framing errors) and the text
/// was valid UTF-8 (1007), but the message is not a goim request.
public enum GoimJSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are not well-formed UTF-8.
    case invalidUTF8
    /// Not JSON, not of the expected shape (object / array of objects), or data after it.
    case malformedJSON(offset: Int, reason: String)
    /// `ver`, `op` or `seq` is not an integer in range (`1.5`, `"1"`, `70000` for ver).
    case invalidField(String, reason: String)

    public var description: String {
        switch self {
        case .invalidUTF8:
            return "goim JSON message is not valid UTF-8"
        case .malformedJSON(let offset, let reason):
            return "goim JSON message is malformed: \(reason) at byte \(offset)"
        case .invalidField(let name, let reason):
            return "goim JSON field \"\(name)\" is invalid: \(reason)"
        }
    }
}

/// goim v1.2's WebSocket JSON framing, without I/O.
///
/// A client sends one JSON object per text message:
/// `{"ver":1,"op":7,"seq":1,"body":123}`. The server sends JSON arrays of such objects:
/// `[{"ver":1,"op":8,"seq":1,"body":{}}]` (see `GoimJSONMessage`).
public enum GoimJSON {
    /// Reads one client message into a frame whose body is the raw JSON text of `body`.
    ///
    /// Rules:
    /// - The message is one JSON object; whitespace may surround it, anything else after it is
    ///   an error (goim ignored trailing bytes).
    /// - Keys are matched ASCII case-insensitively (`"Ver"` is `ver`, as Go's decoder matched
    ///   them); unknown keys are ignored but must be valid JSON; a repeated key keeps its last
    ///   value.
    /// - `ver` must be an integer in Int16, `op` and `seq` in Int32 (`1.0`, `1e2`, `"1"` and
    ///   out-of-range values are errors); a missing key or `null` is 0. goim kept the value of
    ///   an earlier request instead.
    /// - `body` may be any JSON value and is kept as its exact text (`123`, `"123"` with its
    ///   quotes, `{"mid":1}` with its inner spacing); a missing `body` is an empty body.
    ///   So the auth token is the body's raw text, exactly as a TCP client would send it.
    /// - Nesting deeper than 64 levels is refused.
    ///
    /// - Throws: `GoimJSONError`.
    public static func parseRequest(_ message: UnsafeRawBufferPointer) throws -> Frame {
        guard UTF8Validator.isValid(message) else { throw GoimJSONError.invalidUTF8 }

        var scanner = JSONScanner(message)
        return try withMalformedJSONErrors {
            let frame = try readEntry(&scanner, in: message)
            try scanner.expectEnd()
            return frame
        }
    }

    /// Reads one client message; see `parseRequest(_: UnsafeRawBufferPointer)`.
    public static func parseRequest(_ message: [UInt8]) throws -> Frame {
        try message.withUnsafeBytes { try parseRequest($0) }
    }

    /// Reads a server message (a JSON array of `{"ver","op","seq","body"}` objects, with the
    /// same field rules as `parseRequest`) into its frames, bodies as raw JSON text. For
    /// clients (`imctl client connect --ws`) and tests.
    ///
    /// - Throws: `GoimJSONError`.
    public static func decodeServerMessage(_ message: [UInt8]) throws -> [Frame] {
        try message.withUnsafeBytes { bytes in
            guard UTF8Validator.isValid(bytes) else { throw GoimJSONError.invalidUTF8 }

            var scanner = JSONScanner(bytes)
            var frames: [Frame] = []
            try withMalformedJSONErrors {
                try scanner.readArray { scanner in frames.append(try readEntry(&scanner, in: bytes))
                }
                try scanner.expectEnd()
            }
            return frames
        }
    }

    /// Whether `bytes` is one strict JSON text (RFC 8259) in valid UTF-8, nested at most 512
    /// deep: the test a body must pass to be sent to JSON clients as is.
    public static func isValidJSON(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { JSONScanner.isValidJSONText($0) }
    }

    // MARK: Reading

    private static func readEntry(
        _ scanner: inout JSONScanner, in bytes: UnsafeRawBufferPointer
    ) throws -> Frame {
        var frame = Frame(ver: 0, op: 0, seq: 0, body: [])
        try scanner.readObject { scanner, key in
            switch Field(key) {
            case .ver: frame.ver = try integer("ver", &scanner)
            case .op: frame.op = try integer("op", &scanner)
            case .seq: frame.seq = try integer("seq", &scanner)
            case .body: frame.body = try rawValue(&scanner, in: bytes)
            case nil: try scanner.skipValue()
            }
        }
        return frame
    }

    /// An integer field; `null` counts as 0 (absent).
    private static func integer<T: FixedWidthInteger>(
        _ name: String, _ scanner: inout JSONScanner
    ) throws -> T {
        do {
            return try scanner.consumeNull() ? 0 : scanner.readInteger(T.self)
        } catch let error as JSONScanError {
            throw GoimJSONError.invalidField(name, reason: error.reason)
        }
    }

    /// The exact text of the next value, without the whitespace around it.
    private static func rawValue(
        _ scanner: inout JSONScanner, in bytes: UnsafeRawBufferPointer
    ) throws -> [UInt8] {
        var start = scanner.offset
        while start < bytes.count, isWhitespace(bytes[start]) {
            start += 1
        }
        try scanner.skipValue()
        return [UInt8](UnsafeRawBufferPointer(rebasing: bytes[start..<scanner.offset]))
    }

    private static func withMalformedJSONErrors<R>(_ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let error as JSONScanError {
            throw GoimJSONError.malformedJSON(offset: error.offset, reason: error.reason)
        }
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// The keys goim's JSON objects carry.
    private enum Field {
        case ver, op, seq, body

        /// Matches `key` ASCII case-insensitively; nil for any other key.
        init?(_ key: UnsafeRawBufferPointer) {
            if Self.matches(key, "ver") {
                self = .ver
            } else if Self.matches(key, "op") {
                self = .op
            } else if Self.matches(key, "seq") {
                self = .seq
            } else if Self.matches(key, "body") {
                self = .body
            } else {
                return nil
            }
        }

        /// `name` is lower-case letters, so `byte | 0x20` equals its byte only for that letter
        /// in either case.
        private static func matches(_ key: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
            guard key.count == name.utf8CodeUnitCount else { return false }
            for index in 0..<key.count where key[index] | 0x20 != name.utf8Start[index] {
                return false
            }
            return true
        }
    }
}
