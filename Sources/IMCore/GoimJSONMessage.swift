/// One server → client message in goim v1.2's WebSocket JSON framing, measured and ready to
/// be written: a JSON array of `{"ver":V,"op":O,"seq":S,"body":B}` objects, keys always in
/// that order.
///
/// Bodies are raw bytes; each is written by one deterministic rule, so no body can make the
/// message invalid (goim's encoder failed on a non-JSON body and closed every WebSocket that
/// was to receive it):
/// - empty → `{}` (goim's rule for replies without a body: auth, heartbeat);
/// - a strict JSON text in valid UTF-8 (nested at most 512 deep) → passed through byte for
///   byte, whitespace included (goim compacted it and escaped `<`, `>`, `&`);
/// - any other valid UTF-8 (`hello`) → a JSON string of that text (`"hello"`);
/// - invalid UTF-8 → `{"base64":"<padded standard base64 of the bytes>"}`, lossless.
///   Clients that push binary data should use the binary WebSocket mode instead.
///
/// A reply to a client's request ends with `\n`, as goim's replies did; a push message
/// (`pushBatch`, any number of bodies, op 5, ver 0, seq 0) does not, as goim's room batches
/// did not.
///
/// Building a message measures it (and checks every body once); `write(into:)` then fills
/// exactly `encodedCount` bytes, so a push can be encoded once into one buffer (with room for a
/// WebSocket header in front) and shared by every JSON client.
public struct GoimJSONMessage: Sendable {
    /// How a body is written.
    enum BodyForm: Sendable, Equatable {
        case emptyObject
        case raw
        /// A JSON string whose content (between the quotes) takes `escapedCount` bytes.
        case string(escapedCount: Int)
        case base64
    }

    struct Entry: Sendable {
        var ver: Int16
        var op: Int32
        var seq: Int32
        var body: [UInt8]
        var form: BodyForm
    }

    private enum Entries: Sendable {
        case single(Entry)
        case many([Entry])
    }

    private let entries: Entries
    private let endsWithNewline: Bool

    /// The exact number of bytes `write(into:)` writes.
    public let encodedCount: Int

    /// The answer to a client's request: one object, then `\n`.
    public static func reply(ver: Int16, op: Int32, seq: Int32, body: [UInt8] = []) -> Self {
        let entry = Entry(ver: ver, op: op, seq: seq, body: body, form: form(of: body))
        return GoimJSONMessage(entries: .single(entry), endsWithNewline: true)
    }

    /// The answer to a client's request, from a reply frame; see `reply(ver:op:seq:body:)`.
    public static func reply(_ frame: Frame) -> Self {
        reply(ver: frame.ver, op: frame.op, seq: frame.seq, body: frame.body)
    }

    /// Pushes as JSON clients receive them: one array with one object per body, in order, each
    /// ver 0, op 5, seq 0; no trailing newline. An empty list gives `[]`.
    public static func pushBatch(_ bodies: [[UInt8]]) -> Self {
        let entries = bodies.map { body in
            Entry(ver: 0, op: Operation.push, seq: 0, body: body, form: form(of: body))
        }
        return GoimJSONMessage(entries: .many(entries), endsWithNewline: false)
    }

    private init(entries: Entries, endsWithNewline: Bool) {
        self.entries = entries
        self.endsWithNewline = endsWithNewline

        var total = 2 + (endsWithNewline ? 1 : 0)  // [ ] \n
        switch entries {
        case .single(let entry):
            total += Self.encodedCount(of: entry)
        case .many(let list):
            total += list.reduce(max(list.count - 1, 0)) { $0 + Self.encodedCount(of: $1) }
        }
        self.encodedCount = total
    }

    /// Writes the message at the start of `buffer` and returns `encodedCount`.
    ///
    /// - Precondition: `buffer.count >= encodedCount`.
    @discardableResult
    public func write(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        precondition(buffer.count >= encodedCount, "buffer too small for the goim JSON message")

        var writer = JSONByteWriter(buffer.baseAddress!)
        writer.byte(UInt8(ascii: "["))
        switch entries {
        case .single(let entry):
            Self.write(entry, to: &writer)
        case .many(let list):
            for (index, entry) in list.enumerated() {
                if index > 0 { writer.byte(UInt8(ascii: ",")) }
                Self.write(entry, to: &writer)
            }
        }
        writer.byte(UInt8(ascii: "]"))
        if endsWithNewline { writer.byte(0x0A) }

        precondition(writer.count == encodedCount, "goim JSON message size mismatch")
        return writer.count
    }

    /// The message as a new array.
    public var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: encodedCount) { buffer, count in
            count = write(into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// The message in a chunk of its own (no WebSocket header).
    public var chunk: ByteChunk {
        ByteChunk(capacity: encodedCount) { write(into: $0) }
    }
}

// MARK: - Measuring

extension GoimJSONMessage {
    /// `{"ver":` `,"op":` `,"seq":` `,"body":` `}`
    private static let fixedEntryCount = 7 + 6 + 7 + 8 + 1

    static func form(of body: [UInt8]) -> BodyForm {
        body.withUnsafeBytes { bytes in
            if bytes.isEmpty { return .emptyObject }
            if JSONScanner.isValidJSONText(bytes) { return .raw }
            guard UTF8Validator.isValid(bytes) else { return .base64 }
            return .string(escapedCount: bytes.reduce(0) { $0 + escapedCount(of: $1) })
        }
    }

    private static func encodedCount(of entry: Entry) -> Int {
        fixedEntryCount + decimalCount(entry.ver) + decimalCount(entry.op)
            + decimalCount(entry.seq) + bodyCount(entry.body.count, entry.form)
    }

    private static func bodyCount(_ count: Int, _ form: BodyForm) -> Int {
        switch form {
        case .emptyObject: return 2
        case .raw: return count
        case .string(let escapedCount): return 2 + escapedCount
        case .base64: return 11 + Base64.encodedCount(count) + 2  // {"base64":" ... "}
        }
    }

    /// Bytes `byte` takes inside a JSON string.
    private static func escapedCount(of byte: UInt8) -> Int {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x08, 0x09, 0x0A, 0x0C, 0x0D: return 2
        case ..<0x20: return 6  // \u00XX
        default: return 1
        }
    }

    private static func decimalCount(_ value: some FixedWidthInteger) -> Int {
        var magnitude = UInt64(value.magnitude)
        var digits = value < 0 ? 2 : 1
        while magnitude >= 10 {
            magnitude /= 10
            digits += 1
        }
        return digits
    }
}

// MARK: - Writing

extension GoimJSONMessage {
    private static func write(_ entry: Entry, to writer: inout JSONByteWriter) {
        writer.literal("{\"ver\":")
        writer.decimal(entry.ver)
        writer.literal(",\"op\":")
        writer.decimal(entry.op)
        writer.literal(",\"seq\":")
        writer.decimal(entry.seq)
        writer.literal(",\"body\":")
        entry.body.withUnsafeBytes { writeBody($0, entry.form, to: &writer) }
        writer.byte(UInt8(ascii: "}"))
    }

    private static func writeBody(
        _ body: UnsafeRawBufferPointer, _ form: BodyForm, to writer: inout JSONByteWriter
    ) {
        switch form {
        case .emptyObject:
            writer.literal("{}")
        case .raw:
            writer.bytes(body)
        case .string:
            writer.byte(UInt8(ascii: "\""))
            for byte in body { writer.escaped(byte) }
            writer.byte(UInt8(ascii: "\""))
        case .base64:
            writer.literal("{\"base64\":\"")
            writer.base64(body)
            writer.literal("\"}")
        }
    }
}

/// Writes through a raw pointer into memory sized beforehand by measuring; no bounds checks
/// (`GoimJSONMessage.write` checks the total).
private struct JSONByteWriter {
    private let start: UnsafeMutableRawPointer
    private(set) var count = 0

    init(_ start: UnsafeMutableRawPointer) {
        self.start = start
    }

    mutating func byte(_ value: UInt8) {
        start.storeBytes(of: value, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    mutating func literal(_ text: StaticString) {
        (start + count).copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
        count += text.utf8CodeUnitCount
    }

    mutating func bytes(_ source: UnsafeRawBufferPointer) {
        guard let base = source.baseAddress, !source.isEmpty else { return }
        (start + count).copyMemory(from: base, byteCount: source.count)
        count += source.count
    }

    mutating func base64(_ source: UnsafeRawBufferPointer) {
        count += Base64.encode(source, to: (start + count).assumingMemoryBound(to: UInt8.self))
    }

    /// `value` in decimal, without going through a String.
    mutating func decimal(_ value: some FixedWidthInteger) {
        if value < 0 { byte(UInt8(ascii: "-")) }
        var magnitude = UInt64(value.magnitude)
        var digits = 1
        var probe = magnitude
        while probe >= 10 {
            probe /= 10
            digits += 1
        }

        for index in stride(from: count + digits - 1, through: count, by: -1) {
            start.storeBytes(
                of: UInt8(ascii: "0") + UInt8(magnitude % 10), toByteOffset: index, as: UInt8.self)
            magnitude /= 10
        }
        count += digits
    }

    /// One byte of valid UTF-8 text inside a JSON string.
    mutating func escaped(_ value: UInt8) {
        switch value {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): pair(value)
        case 0x08: pair(UInt8(ascii: "b"))
        case 0x09: pair(UInt8(ascii: "t"))
        case 0x0A: pair(UInt8(ascii: "n"))
        case 0x0C: pair(UInt8(ascii: "f"))
        case 0x0D: pair(UInt8(ascii: "r"))
        case ..<0x20:
            literal("\\u00")
            byte(Self.hexDigits[Int(value >> 4)])
            byte(Self.hexDigits[Int(value & 0xF)])
        default:
            byte(value)
        }
    }

    private mutating func pair(_ second: UInt8) {
        byte(UInt8(ascii: "\\"))
        byte(second)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
