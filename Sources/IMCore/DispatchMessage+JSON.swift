#if canImport(Glibc)
    import Glibc
#endif

/// Why a dispatch message could not be decoded.
public enum DispatchMessageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are not JSON, or not a JSON object.
    case malformedJSON(offset: Int, reason: String)
    /// No `op` key (or `"op":null`).
    case missingOperation
    /// `op` is not `multiple`, `broadcast` or `broadcast_room`.
    case unknownOperation(String)
    /// A known key has a value of the wrong type or range.
    case invalidField(String, reason: String)
    /// An entry of `subkeys` is not `"<uid>_<seq>"`.
    case invalidSessionKey(String)
    /// `msg` is not padded standard base64.
    case invalidBase64

    public var description: String {
        switch self {
        case .malformedJSON(let offset, let reason):
            return "dispatch message is not a valid JSON object: \(reason) at byte \(offset)"
        case .missingOperation:
            return "dispatch message has no \"op\""
        case .unknownOperation(let op):
            return "dispatch message has unknown op \"\(op)\""
                + " (expected multiple, broadcast or broadcast_room)"
        case .invalidField(let name, let reason):
            return "dispatch message field \"\(name)\" is invalid: \(reason)"
        case .invalidSessionKey(let key):
            return "dispatch message subkey \"\(key)\" is not <uid>_<seq>"
        case .invalidBase64:
            return "dispatch message \"msg\" is not valid base64"
        }
    }
}

// MARK: - Encoding

extension DispatchMessage {
    /// goim v1.2's JSON for this message, keys in goim's order (`op`, `roomid`, `server`,
    /// `subkeys`, `msg`, `ensure`); `roomid` and `server` are omitted when 0, `subkeys` when
    /// empty, `ensure` when false. `msg` is padded standard base64 (`""` for an empty body).
    /// One allocation.
    public func jsonBytes() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: maximumJSONSize) { buffer, count in
            var writer = JSONWriter(buffer.baseAddress!)
            writer.literal(kind.jsonPrefix)
            writeNumbers(&writer)
            writeKeys(&writer)

            writer.literal(",\"msg\":\"")
            body.withUnsafeBytes { writer.base64($0) }
            writer.literal(ensure ? "\",\"ensure\":true}" : "\"}")
            count = writer.count
        }
    }

    /// An upper bound of the encoded size: every integer counted at its widest.
    private var maximumJSONSize: Int {
        let perKey = 2 + 20 + 1 + 11 + 1
        return 96 + 2 * 11 + keys.count * perKey + Base64.encodedCount(body.count)
    }

    private func writeNumbers(_ writer: inout JSONWriter) {
        if room != 0 {
            writer.literal(",\"roomid\":")
            writer.decimal(room)
        }
        if server != 0 {
            writer.literal(",\"server\":")
            writer.decimal(server)
        }
    }

    private func writeKeys(_ writer: inout JSONWriter) {
        guard !keys.isEmpty else { return }

        writer.literal(",\"subkeys\":[")
        for (index, key) in keys.enumerated() {
            writer.literal(index == 0 ? "\"" : ",\"")
            writer.decimal(key.user)
            writer.literal("_")
            writer.decimal(key.seq)
            writer.literal("\"")
        }
        writer.literal("]")
    }
}

extension DispatchMessage.Kind {
    /// The start of the JSON object, up to and including the op value.
    fileprivate var jsonPrefix: StaticString {
        switch self {
        case .multiple: return "{\"op\":\"multiple\""
        case .broadcast: return "{\"op\":\"broadcast\""
        case .broadcastRoom: return "{\"op\":\"broadcast_room\""
        }
    }
}

/// Writes through a raw pointer into memory the caller sized beforehand (`maximumJSONSize`);
/// no bounds checks.
private struct JSONWriter {
    private let start: UnsafeMutablePointer<UInt8>
    private(set) var count = 0

    init(_ start: UnsafeMutablePointer<UInt8>) {
        self.start = start
    }

    mutating func literal(_ text: StaticString) {
        (start + count).initialize(from: text.utf8Start, count: text.utf8CodeUnitCount)
        count += text.utf8CodeUnitCount
    }

    mutating func base64(_ bytes: UnsafeRawBufferPointer) {
        count += Base64.encode(bytes, to: start + count)
    }

    /// `value` in decimal, without going through a String.
    mutating func decimal(_ value: some FixedWidthInteger) {
        if value < 0 {
            start[count] = UInt8(ascii: "-")
            count += 1
        }
        var magnitude = UInt64(value.magnitude)
        var digits = 1
        var probe = magnitude
        while probe >= 10 {
            probe /= 10
            digits += 1
        }

        for index in stride(from: count + digits - 1, through: count, by: -1) {
            start[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        }
        count += digits
    }
}

// MARK: - Decoding

extension DispatchMessage {
    /// Decodes goim v1.2's JSON. Key order does not matter, unknown keys are ignored, a `null`
    /// value counts as absent (`"msg":null` is an empty body), and a repeated key keeps its last
    /// value. `op` is required. Keys are matched exactly (lower case), as goim writes them.
    ///
    /// - Throws: `DispatchMessageError`.
    public init(json: [UInt8]) throws {
        self = try json.withUnsafeBytes { try DispatchMessage(json: $0) }
    }

    /// Decodes goim v1.2's JSON from borrowed bytes; see `init(json: [UInt8])`.
    public init(json: UnsafeRawBufferPointer) throws {
        var decoder = DispatchMessageDecoder()
        var scanner = JSONScanner(json)
        do {
            try scanner.readObject { scanner, key in try decoder.readMember(key, &scanner) }
            try scanner.expectEnd()
        } catch let error as JSONScanError {
            throw DispatchMessageError.malformedJSON(offset: error.offset, reason: error.reason)
        }
        self = try decoder.message()
    }
}

/// The fields seen so far while decoding one message.
private struct DispatchMessageDecoder {
    var kind: DispatchMessage.Kind?
    var room: RoomID = 0
    var server: ServerID = 0
    var keys: [SessionKey] = []
    var body: [UInt8] = []
    var ensure = false

    mutating func readMember(_ key: UnsafeRawBufferPointer, _ scanner: inout JSONScanner) throws {
        if key.equals("op") {
            kind = try field("op", &scanner) { try Self.readKind(&$0) }
        } else if key.equals("roomid") {
            room = try field("roomid", &scanner) { try $0.readInteger() } ?? 0
        } else if key.equals("server") {
            server = try field("server", &scanner) { try $0.readInteger() } ?? 0
        } else if key.equals("subkeys") {
            keys = try field("subkeys", &scanner) { try Self.readKeys(&$0) } ?? []
        } else if key.equals("msg") {
            body = try field("msg", &scanner) { try Self.readBody(&$0) } ?? []
        } else if key.equals("ensure") {
            ensure = try field("ensure", &scanner) { try $0.readBool() } ?? false
        } else {
            try scanner.skipValue()
        }
    }

    func message() throws -> DispatchMessage {
        guard let kind else { throw DispatchMessageError.missingOperation }
        return DispatchMessage(
            kind: kind, server: server, keys: keys, room: room, body: body, ensure: ensure)
    }

    /// Reads one field's value (nil for `null`), naming the field in scanner errors.
    private func field<T>(
        _ name: String, _ scanner: inout JSONScanner, _ read: (inout JSONScanner) throws -> T
    ) throws -> T? {
        do {
            return try scanner.consumeNull() ? nil : read(&scanner)
        } catch let error as JSONScanError {
            throw DispatchMessageError.invalidField(name, reason: error.reason)
        }
    }

    private static func readKind(_ scanner: inout JSONScanner) throws -> DispatchMessage.Kind {
        try scanner.withString { text in
            let name = String(decoding: text, as: UTF8.self)
            guard let kind = DispatchMessage.Kind(rawValue: name) else {
                throw DispatchMessageError.unknownOperation(String(name.prefix(64)))
            }
            return kind
        }
    }

    private static func readKeys(_ scanner: inout JSONScanner) throws -> [SessionKey] {
        var keys: [SessionKey] = []
        try scanner.readArray { scanner in
            let key = try scanner.withString { text in
                guard let key = SessionKey(utf8: text) else {
                    let shown = String(decoding: text.prefix(64), as: UTF8.self)
                    throw DispatchMessageError.invalidSessionKey(shown)
                }
                return key
            }
            keys.append(key)
        }
        return keys
    }

    private static func readBody(_ scanner: inout JSONScanner) throws -> [UInt8] {
        guard let body = try scanner.withString({ Base64.decode($0) }) else {
            throw DispatchMessageError.invalidBase64
        }
        return body
    }
}

extension UnsafeRawBufferPointer {
    fileprivate func equals(_ literal: StaticString) -> Bool {
        guard count == literal.utf8CodeUnitCount else { return false }
        guard let baseAddress, count > 0 else { return true }
        return memcmp(baseAddress, literal.utf8Start, count) == 0
    }
}

extension SessionKey {
    /// Parses `"<uid>_<seq>"` from UTF-8 bytes with the same rules as `init?(_: String)`:
    /// split at the first `_`, each side an optionally signed decimal in range.
    fileprivate init?(utf8 text: UnsafeRawBufferPointer) {
        guard let underscore = text.firstIndex(of: UInt8(ascii: "_")),
            let user = Self.decimal(
                UserID.self, UnsafeRawBufferPointer(rebasing: text[..<underscore])),
            let seq = Self.decimal(
                Int32.self, UnsafeRawBufferPointer(rebasing: text[(underscore + 1)...]))
        else { return nil }
        self.init(user: user, seq: seq)
    }

    private static func decimal<T: FixedWidthInteger>(
        _: T.Type, _ text: UnsafeRawBufferPointer
    ) -> T? {
        var digits = text[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative || digits.first == UInt8(ascii: "+") { digits = digits.dropFirst() }
        guard !digits.isEmpty else { return nil }

        var value: T = 0
        for byte in digits {
            let digit = byte &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (times10, overflowA) = value.multipliedReportingOverflow(by: 10)
            let delta = T(digit)
            let (next, overflowB) =
                negative
                ? times10.subtractingReportingOverflow(delta)
                : times10.addingReportingOverflow(delta)
            guard !overflowA, !overflowB else { return nil }
            value = next
        }
        return value
    }
}
