/// The compact binary encoding of RPC control messages (see `docs/rpc.md`).
///
/// Every value is written in a fixed layout, with no tags or field names: both sides know the
/// type from the method. All integers are big-endian, like the frame header.
///
/// | type | bytes |
/// |---|---|
/// | `UInt8` | 1 |
/// | `Bool` | 1: 0 or 1 (anything else is an error) |
/// | `Int32`, `UInt32` | 4 |
/// | `Int64`, `UInt64`, `Int` | 8 (`Int` travels as `Int64`) |
/// | `String` | UInt32 byte count, then UTF-8 (validated when decoding) |
/// | `[UInt8]` | UInt32 byte count, then the raw bytes (no per-byte overhead) |
/// | `[T]` | UInt32 element count, then each element |
/// | `T?` | 1 tag byte (0 none, 1 some), then the value when present |
/// | `[K: V]` | UInt32 entry count, then key, value, key, value... (any order) |
///
/// Decoding never traps: a value cut short, a count larger than the bytes left, a bad tag,
/// invalid UTF-8, a duplicate dictionary key or bytes left over all throw
/// `RPCDecodingError`. Since every encoded value takes at least one byte, a count is refused
/// when it exceeds the bytes remaining, so a forged count cannot make the decoder reserve
/// memory; decoded values take at most a small constant factor more memory than their bytes.
public protocol RPCEncodable {
    /// Appends the value to `encoder`. Must write at least one byte.
    func encode(to encoder: inout RPCEncoder)
}

/// A value that can be read back from the RPC encoding (see `RPCEncodable`).
public protocol RPCDecodable {
    /// Reads the value from `decoder`, throwing on malformed input.
    init(from decoder: inout RPCDecoder) throws(RPCDecodingError)
}

/// Both directions of the RPC encoding.
public typealias RPCCodable = RPCEncodable & RPCDecodable

/// Why RPC-encoded bytes could not be decoded.
public enum RPCDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input ends inside a value.
    case truncated(needed: Int, remaining: Int)
    /// A length or element count is larger than the bytes left.
    case countTooLarge(count: Int, remaining: Int)
    /// A `Bool` or optional tag byte other than 0 or 1.
    case invalidTag(UInt8)
    /// A string that is not valid UTF-8.
    case invalidUTF8
    /// A number that does not fit the type decoded (an `Int` on a 32-bit platform).
    case outOfRange(Int64)
    /// The same key twice in a dictionary.
    case duplicateKey
    /// Bytes left after the value.
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .truncated(let needed, let remaining):
            return "input ends early: \(needed) bytes needed, \(remaining) left"
        case .countTooLarge(let count, let remaining):
            return "count \(count) is larger than the \(remaining) bytes left"
        case .invalidTag(let tag): return "invalid tag byte \(tag) (expected 0 or 1)"
        case .invalidUTF8: return "string is not valid UTF-8"
        case .outOfRange(let value): return "number \(value) is out of range"
        case .duplicateKey: return "duplicate dictionary key"
        case .trailingBytes(let count): return "\(count) unexpected bytes after the value"
        }
    }
}

// MARK: - Encoder

/// Writes values in the RPC encoding into a growing byte array.
public struct RPCEncoder: Sendable {
    /// Everything written so far.
    public private(set) var bytes: [UInt8] = []

    /// An empty encoder; `capacity` pre-sizes the buffer when the size is known.
    public init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// The encoding of `value` as a new array.
    public static func encode(_ value: some RPCEncodable) -> [UInt8] {
        var encoder = RPCEncoder()
        value.encode(to: &encoder)
        return encoder.bytes
    }

    /// Appends `value` (shorthand for `value.encode(to: &self)`).
    public mutating func encode(_ value: some RPCEncodable) {
        value.encode(to: &self)
    }

    public mutating func writeUInt8(_ value: UInt8) {
        bytes.append(value)
    }

    public mutating func writeUInt32(_ value: UInt32) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func writeInt32(_ value: Int32) {
        writeUInt32(UInt32(bitPattern: value))
    }

    public mutating func writeInt64(_ value: Int64) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func writeBool(_ value: Bool) {
        bytes.append(value ? 1 : 0)
    }

    /// A length or element count (UInt32).
    ///
    /// - Precondition: `0 <= count <= UInt32.max` (no frame can carry more anyway).
    public mutating func writeCount(_ count: Int) {
        precondition(count >= 0 && count <= Int(UInt32.max), "RPC count out of range")
        writeUInt32(UInt32(count))
    }

    /// A byte string: its length, then the bytes as they are.
    public mutating func writeBytes(_ value: some Collection<UInt8>) {
        writeCount(value.count)
        bytes.append(contentsOf: value)
    }

    /// A string: its UTF-8 length, then the UTF-8 bytes.
    public mutating func writeString(_ value: String) {
        writeBytes(value.utf8)
    }
}

// MARK: - Decoder

/// Reads values in the RPC encoding from a byte array, checking every bound.
public struct RPCDecoder: Sendable {
    private let bytes: [UInt8]
    private var offset = 0

    /// Collections reserve at most this many slots up front: a count is checked against the
    /// bytes left, but an element can take more memory than its encoding, so larger ones grow
    /// with the elements actually decoded.
    static let maxReservedCount = 1024

    /// A decoder positioned at the start of `bytes`.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Decodes one `T` from `bytes`, which must hold exactly that value.
    public static func decode<T: RPCDecodable>(
        _ type: T.Type, from bytes: [UInt8]
    ) throws(RPCDecodingError) -> T {
        var decoder = RPCDecoder(bytes)
        let value = try T(from: &decoder)
        try decoder.finish()
        return value
    }

    /// Bytes not read yet.
    public var remainingCount: Int { bytes.count - offset }

    /// Reads a `T` (shorthand for `T(from: &self)`).
    public mutating func decode<T: RPCDecodable>(
        _ type: T.Type = T.self
    ) throws(RPCDecodingError) -> T {
        try T(from: &self)
    }

    /// Throws `trailingBytes` unless everything was read.
    public func finish() throws(RPCDecodingError) {
        guard remainingCount == 0 else { throw .trailingBytes(remainingCount) }
    }

    public mutating func readUInt8() throws(RPCDecodingError) -> UInt8 {
        try require(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func readUInt32() throws(RPCDecodingError) -> UInt32 {
        UInt32(truncatingIfNeeded: try readBigEndian(byteCount: 4))
    }

    public mutating func readInt32() throws(RPCDecodingError) -> Int32 {
        Int32(bitPattern: try readUInt32())
    }

    public mutating func readInt64() throws(RPCDecodingError) -> Int64 {
        Int64(bitPattern: try readBigEndian(byteCount: 8))
    }

    public mutating func readBool() throws(RPCDecodingError) -> Bool {
        try readTag()
    }

    /// A tag byte: 0 → false, 1 → true, anything else throws.
    public mutating func readTag() throws(RPCDecodingError) -> Bool {
        let tag = try readUInt8()
        guard tag <= 1 else { throw .invalidTag(tag) }
        return tag == 1
    }

    /// A length or element count, checked against the bytes left (every encoded value takes
    /// at least one byte, so a larger count cannot be honest).
    public mutating func readCount() throws(RPCDecodingError) -> Int {
        let count = Int(try readUInt32())
        guard count <= remainingCount else {
            throw .countTooLarge(count: count, remaining: remainingCount)
        }
        return count
    }

    /// A byte string written by `writeBytes`.
    public mutating func readBytes() throws(RPCDecodingError) -> [UInt8] {
        let count = try readCount()
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// A string written by `writeString`; throws on invalid UTF-8.
    public mutating func readString() throws(RPCDecodingError) -> String {
        let count = try readCount()
        guard let string = String(validating: bytes[offset..<offset + count], as: UTF8.self) else {
            throw .invalidUTF8
        }
        offset += count
        return string
    }

    private func require(_ count: Int) throws(RPCDecodingError) {
        guard remainingCount >= count else {
            throw .truncated(needed: count, remaining: remainingCount)
        }
    }

    private mutating func readBigEndian(byteCount: Int) throws(RPCDecodingError) -> UInt64 {
        try require(byteCount)
        var value: UInt64 = 0
        for index in offset..<offset + byteCount {
            value = value << 8 | UInt64(bytes[index])
        }
        offset += byteCount
        return value
    }
}

// MARK: - Standard types

extension UInt8: RPCCodable {
    public func encode(to encoder: inout RPCEncoder) { encoder.writeUInt8(self) }
    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
        self = try decoder.readUInt8()
    }
}

extension Bool: RPCCodable {
    public func encode(to encoder: inout RPCEncoder) { encoder.writeBool(self) }
    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
        self = try decoder.readBool()
    }
}

extension Int32: RPCCodable {
    public func encode(to encoder: inout RPCEncoder) { encoder.writeInt32(self) }
    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
        self = try decoder.readInt32()
    }
}

extension UInt32: RPCCodable {
    public func encode(to encoder: inout RPCEncoder) { encoder.writeUInt32(self) }
    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
        self = try decoder.readUInt32()
    }
}

extension Int64: RPCCodable {
    public func encode(to encoder: inout RPCEncoder) { encoder.writeInt64(self) }
    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
        self = try decoder.readInt64()
    }
}

extension UInt64: RPCCodable {
    public func encode(to encoder: inout RPCEncoder) {
        encoder.writeInt64(Int64(bitPattern: self))
    }
    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
        self = UInt64(bitPattern: try decoder.readInt64())
    }
}

extension Int: RPCCodable {
    public func encode(to encoder: inout RPCEncoder) { encoder.writeInt64(Int64(self)) }
    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
        let wide = try decoder.readInt64()
        guard let value = Int(exactly: wide) else { throw .outOfRange(wide) }
        self = value
    }
}

extension String: RPCCodable {
    public func encode(to encoder: inout RPCEncoder) { encoder.writeString(self) }
    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
        self = try decoder.readString()
    }
}

extension Optional: RPCEncodable where Wrapped: RPCEncodable {
    public func encode(to encoder: inout RPCEncoder) {
        encoder.writeBool(self != nil)
        if let self { self.encode(to: &encoder) }
    }
}

extension Optional: RPCDecodable where Wrapped: RPCDecodable {
    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
        self = try decoder.readTag() ? try Wrapped(from: &decoder) : nil
    }
}

extension Array: RPCEncodable where Element: RPCEncodable {
    /// `[UInt8]` is written as a byte string (same layout, no per-element work).
    public func encode(to encoder: inout RPCEncoder) {
        if let bytes = self as? [UInt8] {
            encoder.writeBytes(bytes)
            return
        }
        encoder.writeCount(count)
        for element in self { element.encode(to: &encoder) }
    }
}

extension Array: RPCDecodable where Element: RPCDecodable {
    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
        if Element.self == UInt8.self, let bytes = try decoder.readBytes() as? [Element] {
            self = bytes
            return
        }

        let count = try decoder.readCount()
        var elements: [Element] = []
        elements.reserveCapacity(Swift.min(count, RPCDecoder.maxReservedCount))
        for _ in 0..<count {
            elements.append(try Element(from: &decoder))
        }
        self = elements
    }
}

extension Dictionary: RPCEncodable where Key: RPCEncodable, Value: RPCEncodable {
    public func encode(to encoder: inout RPCEncoder) {
        encoder.writeCount(count)
        for (key, value) in self {
            key.encode(to: &encoder)
            value.encode(to: &encoder)
        }
    }
}

extension Dictionary: RPCDecodable where Key: RPCDecodable, Value: RPCDecodable {
    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {
        let count = try decoder.readCount()
        var entries: [Key: Value] = [:]
        entries.reserveCapacity(Swift.min(count, RPCDecoder.maxReservedCount))
        for _ in 0..<count {
            let key = try Key(from: &decoder)
            let value = try Value(from: &decoder)
            guard entries.updateValue(value, forKey: key) == nil else { throw .duplicateKey }
        }
        self = entries
    }
}

/// The payload of a call or reply that carries nothing (an empty body). Use it only as a
/// whole payload, never inside a collection: it encodes to no bytes at all.
public struct RPCVoid: RPCCodable, Sendable, Equatable {
    public init() {}
    public func encode(to encoder: inout RPCEncoder) {}
    public init(from decoder: inout RPCDecoder) throws(RPCDecodingError) {}
}
