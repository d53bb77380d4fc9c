/// Why `JSONScanner` stopped.
struct JSONScanError: Error, Equatable {
    var offset: Int
    var reason: String
}

/// A small pull scanner for strict JSON (RFC 8259) over borrowed bytes, for the few JSON
/// shapes IMCore reads on hot or security-relevant paths (dispatch messages, auth tokens).
///
/// Integers are read exactly (no detour through Double), so `1.5`, `1.0` and `1e3` are not
/// integers, and out-of-range values are errors rather than rounded. Nesting is limited to
/// `maxDepth` so hostile input cannot exhaust the stack. The bytes must outlive the scanner.
struct JSONScanner {
    static let maxDepth = 64

    private let bytes: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    // MARK: Structure

    /// Reads an object, calling `onMember` with each key's decoded bytes (valid only during
    /// the call); `onMember` must consume the value.
    mutating func readObject(
        _ onMember: (inout JSONScanner, UnsafeRawBufferPointer) throws -> Void
    ) throws {
        try expect(UInt8(ascii: "{"))
        if try consumeIf(UInt8(ascii: "}")) { return }

        repeat {
            let key = try readStringValue()
            try expect(UInt8(ascii: ":"))
            switch key {
            case .borrowed(let bytes): try onMember(&self, bytes)
            case .owned(let bytes): try bytes.withUnsafeBytes { try onMember(&self, $0) }
            }
        } while try consumeSeparator(closing: UInt8(ascii: "}"))
    }

    /// Reads an array, calling `onElement` for each element; it must consume the element.
    mutating func readArray(_ onElement: (inout JSONScanner) throws -> Void) throws {
        try expect(UInt8(ascii: "["))
        if try consumeIf(UInt8(ascii: "]")) { return }

        repeat {
            try onElement(&self)
        } while try consumeSeparator(closing: UInt8(ascii: "]"))
    }

    /// Requires that only whitespace is left.
    mutating func expectEnd() throws {
        skipWhitespace()
        guard offset == bytes.count else { throw error("unexpected data after the JSON value") }
    }

    /// Consumes a `null` literal if one is next.
    mutating func consumeNull() throws -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        try expectLiteral("null")
        return true
    }

    // MARK: Scalars

    mutating func readBool() throws -> Bool {
        switch try peek() {
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return true
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return false
        default:
            throw error("expected true or false")
        }
    }

    /// Reads a JSON number that must be an integer representable as `T`.
    mutating func readInteger<T: FixedWidthInteger>(_: T.Type = T.self) throws -> T {
        skipWhitespace()
        let start = offset
        let negative = offset < bytes.count && bytes[offset] == UInt8(ascii: "-")
        if negative { offset += 1 }

        let magnitude = try readDigits()
        try rejectFractionOrExponent(startingAt: start)
        return try integer(T.self, magnitude: magnitude, negative: negative, start: start)
    }

    /// Reads a string and passes its decoded bytes to `body`. Strings without escapes are
    /// passed straight from the input, without copying.
    mutating func withString<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        switch try readStringValue() {
        case .borrowed(let bytes): return try body(bytes)
        case .owned(let bytes): return try bytes.withUnsafeBytes(body)
        }
    }

    /// Reads a string into a new array of its decoded UTF-8 bytes.
    mutating func readString() throws -> [UInt8] {
        try withString { [UInt8]($0) }
    }

    /// A string's decoded bytes: borrowed from the input when it has no escapes.
    private enum StringValue {
        case borrowed(UnsafeRawBufferPointer)
        case owned([UInt8])
    }

    private mutating func readStringValue() throws -> StringValue {
        try expect(UInt8(ascii: "\""))
        let start = offset
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                offset += 1
                return .borrowed(UnsafeRawBufferPointer(rebasing: bytes[start..<offset - 1]))
            }
            if byte == UInt8(ascii: "\\") {
                offset = start
                return .owned(try readEscapedStringBody())
            }
            guard byte >= 0x20 else { throw error("control character in string") }
            offset += 1
        }
        throw error("unterminated string")
    }

    /// Skips any value (nested up to `maxDepth`).
    mutating func skipValue(depth: Int = 0) throws {
        guard depth < JSONScanner.maxDepth else { throw error("JSON nested too deeply") }

        switch try peek() {
        case UInt8(ascii: "{"):
            try readObject { scanner, _ in try scanner.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            try readArray { scanner in try scanner.skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""):
            try withString { _ in }
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            _ = try readBool()
        case UInt8(ascii: "n"):
            try expectLiteral("null")
        default:
            try skipNumber()
        }
    }

    // MARK: Helpers

    func error(_ reason: String) -> JSONScanError {
        JSONScanError(offset: offset, reason: reason)
    }

    private mutating func skipWhitespace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    /// The next non-whitespace byte, not consumed.
    private mutating func peek() throws -> UInt8 {
        skipWhitespace()
        guard offset < bytes.count else { throw error("unexpected end of JSON") }
        return bytes[offset]
    }

    private mutating func expect(_ byte: UInt8) throws {
        guard try peek() == byte else {
            throw error("expected '\(Character(Unicode.Scalar(byte)))'")
        }
        offset += 1
    }

    private mutating func consumeIf(_ byte: UInt8) throws -> Bool {
        guard try peek() == byte else { return false }
        offset += 1
        return true
    }

    /// After a member or element: true on `,`, false on the closing bracket.
    private mutating func consumeSeparator(closing: UInt8) throws -> Bool {
        if try consumeIf(UInt8(ascii: ",")) { return true }
        if try consumeIf(closing) { return false }
        throw error("expected ',' or '\(Character(Unicode.Scalar(closing)))'")
    }

    private mutating func expectLiteral(_ literal: StaticString) throws {
        skipWhitespace()
        let count = literal.utf8CodeUnitCount
        guard bytes.count - offset >= count,
            memcmpEqual(literal.utf8Start, count)
        else { throw error("invalid literal") }
        offset += count
    }

    private func memcmpEqual(_ expected: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        for index in 0..<count where bytes[offset + index] != expected[index] {
            return false
        }
        return true
    }
}

// MARK: - Numbers

extension JSONScanner {
    /// Reads a run of digits into an unsigned magnitude (nil when it does not fit in 64 bits).
    /// Integer parts may not have leading zeros, as JSON requires.
    private mutating func readDigits(allowLeadingZero: Bool = false) throws -> UInt64? {
        let start = offset
        var magnitude: UInt64? = 0
        while offset < bytes.count, bytes[offset] &- UInt8(ascii: "0") < 10 {
            let digit = bytes[offset] &- UInt8(ascii: "0")
            magnitude = magnitude.flatMap { Self.appendDigit(digit, to: $0) }
            offset += 1
        }

        guard offset > start else { throw error("expected a number") }
        guard allowLeadingZero || bytes[start] != UInt8(ascii: "0") || offset - start == 1 else {
            throw error("number with a leading zero")
        }
        return magnitude
    }

    private static func appendDigit(_ digit: UInt8, to value: UInt64) -> UInt64? {
        let (times10, overflowA) = value.multipliedReportingOverflow(by: 10)
        let (sum, overflowB) = times10.addingReportingOverflow(UInt64(digit))
        return overflowA || overflowB ? nil : sum
    }

    private mutating func rejectFractionOrExponent(startingAt start: Int) throws {
        guard offset < bytes.count else { return }
        switch bytes[offset] {
        case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"):
            offset = start
            throw error("expected an integer")
        default:
            return
        }
    }

    private func integer<T: FixedWidthInteger>(
        _: T.Type, magnitude: UInt64?, negative: Bool, start: Int
    ) throws -> T {
        let outOfRange = JSONScanError(offset: start, reason: "integer out of range")
        guard let magnitude else { throw outOfRange }

        if negative {
            if magnitude == 0 { return 0 }
            // -(m - 1) - 1 reaches T.min without overflowing.
            guard T.isSigned, magnitude - 1 <= UInt64(T.max) else { throw outOfRange }
            return 0 - T(magnitude - 1) - 1
        }
        guard magnitude <= UInt64(T.max) else { throw outOfRange }
        return T(magnitude)
    }

    /// Skips a number of any form (for values that are ignored).
    private mutating func skipNumber() throws {
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        _ = try readDigits()
        if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
            offset += 1
            _ = try readDigits(allowLeadingZero: true)
        }
        if offset < bytes.count, bytes[offset] | 0x20 == UInt8(ascii: "e") {
            offset += 1
            let sign = offset < bytes.count ? bytes[offset] : 0
            if sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { offset += 1 }
            _ = try readDigits(allowLeadingZero: true)
        }
    }
}

// MARK: - Escaped strings

extension JSONScanner {
    /// Decodes the string starting at `offset` (just after the opening quote) up to and
    /// including the closing quote.
    private mutating func readEscapedStringBody() throws -> [UInt8] {
        var decoded: [UInt8] = []
        while offset < bytes.count {
            let byte = bytes[offset]
            offset += 1
            switch byte {
            case UInt8(ascii: "\""):
                return decoded
            case UInt8(ascii: "\\"):
                try appendEscape(to: &decoded)
            case ..<0x20:
                offset -= 1
                throw error("control character in string")
            default:
                decoded.append(byte)
            }
        }
        throw error("unterminated string")
    }

    private mutating func appendEscape(to decoded: inout [UInt8]) throws {
        guard offset < bytes.count else { throw error("unterminated string") }
        let byte = bytes[offset]
        offset += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(byte)
        case UInt8(ascii: "b"): decoded.append(0x08)
        case UInt8(ascii: "f"): decoded.append(0x0C)
        case UInt8(ascii: "n"): decoded.append(0x0A)
        case UInt8(ascii: "r"): decoded.append(0x0D)
        case UInt8(ascii: "t"): decoded.append(0x09)
        case UInt8(ascii: "u"): try appendUnicodeEscape(to: &decoded)
        default:
            offset -= 1
            throw error("invalid escape in string")
        }
    }

    /// `\uXXXX`, joining surrogate pairs; a lone surrogate becomes U+FFFD.
    private mutating func appendUnicodeEscape(to decoded: inout [UInt8]) throws {
        var scalar = try readHex4()
        if (0xD800..<0xDC00).contains(scalar), hasUnicodeEscapeNext() {
            let checkpoint = offset
            offset += 2
            let low = try readHex4()
            if (0xDC00..<0xE000).contains(low) {
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else {
                offset = checkpoint
            }
        }

        let character = Unicode.Scalar(scalar) ?? "\u{FFFD}"
        decoded.append(contentsOf: String(character).utf8)
    }

    private func hasUnicodeEscapeNext() -> Bool {
        bytes.count - offset >= 2 && bytes[offset] == UInt8(ascii: "\\")
            && bytes[offset + 1] == UInt8(ascii: "u")
    }

    private mutating func readHex4() throws -> UInt32 {
        guard bytes.count - offset >= 4 else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let nibble = Self.hexValue(bytes[offset]) else {
                throw error("invalid hex digit in \\u escape")
            }
            value = value << 4 | UInt32(nibble)
            offset += 1
        }
        return value
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
