/// Checks that bytes are well-formed UTF-8 (RFC 3629), fed in pieces split anywhere.
///
/// Rejects what RFC 3629 forbids: stray continuation bytes, overlong forms, UTF-16 surrogates
/// (U+D800–U+DFFF) and values past U+10FFFF. A sequence is refused at its first bad byte, so a
/// WebSocket text message can be failed as soon as it goes wrong ("fail fast"), not only at its
/// end. State is three bytes; no allocation.
public struct UTF8Validator: Sendable {
    /// Continuation bytes the current scalar still needs.
    private var pendingContinuations: UInt8 = 0
    /// Allowed range of the next continuation byte (narrowed after some lead bytes to exclude
    /// overlong forms, surrogates and values past U+10FFFF).
    private var lowest: UInt8 = 0x80
    private var highest: UInt8 = 0xBF

    public init() {}

    /// Whether everything fed so far ends on a scalar boundary (no sequence left unfinished).
    /// A complete valid text needs this at its end.
    public var isAtScalarBoundary: Bool { pendingContinuations == 0 }

    /// Checks `bytes` as the continuation of everything fed before. Returns false at the first
    /// invalid byte; after that the validator's state is meaningless.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index < bytes.count {
            if pendingContinuations == 0 {
                index = Self.skipASCII(bytes, from: index)
                guard index < bytes.count else { return true }
            }

            guard accept(bytes[index]) else { return false }
            index += 1
        }
        return true
    }

    /// Whether `bytes` is one complete, well-formed UTF-8 text.
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var validator = UTF8Validator()
        return validator.feed(bytes) && validator.isAtScalarBoundary
    }

    /// Whether `bytes` is one complete, well-formed UTF-8 text.
    public static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { isValid($0) }
    }

    /// Takes one byte at the current position (a lead byte or a continuation).
    private mutating func accept(_ byte: UInt8) -> Bool {
        guard pendingContinuations > 0 else { return startSequence(byte) }
        guard byte >= lowest, byte <= highest else { return false }

        pendingContinuations -= 1
        lowest = 0x80
        highest = 0xBF
        return true
    }

    private mutating func startSequence(_ lead: UInt8) -> Bool {
        switch lead {
        case 0x00...0x7F: return true
        case 0xC2...0xDF: pendingContinuations = 1
        case 0xE0: (pendingContinuations, lowest) = (2, 0xA0)  // no overlong 3-byte forms
        case 0xED: (pendingContinuations, highest) = (2, 0x9F)  // no surrogates
        case 0xE1...0xEF: pendingContinuations = 2
        case 0xF0: (pendingContinuations, lowest) = (3, 0x90)  // no overlong 4-byte forms
        case 0xF1...0xF3: pendingContinuations = 3
        case 0xF4: (pendingContinuations, highest) = (3, 0x8F)  // nothing past U+10FFFF
        default: return false  // continuation bytes, C0, C1 and F5...FF cannot start a scalar
        }
        return true
    }

    /// The index of the first non-ASCII byte at or after `start` (or the end), eight bytes at a
    /// time while it can.
    private static func skipASCII(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        var index = start
        while bytes.count - index >= 8,
            bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0
        {
            index += 8
        }
        while index < bytes.count, bytes[index] < 0x80 {
            index += 1
        }
        return index
    }
}
