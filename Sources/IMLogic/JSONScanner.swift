/// A strict JSON (RFC 8259) reader over raw bytes that reports where each value starts and
/// ends, so a value can be passed on exactly as the caller wrote it. It validates syntax only;
/// UTF-8 validity is checked separately over the whole text.
struct JSONScanner {
    /// Where and why the text stopped being JSON.
    struct SyntaxError: Error, Equatable {
        var offset: Int
        var reason: String

        var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    let bytes: [UInt8]
    let maxDepth: Int
    private(set) var position = 0

    init(_ bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    var isAtEnd: Bool { position >= bytes.count }

    /// The byte at the current position, or nil at the end.
    var current: UInt8? { isAtEnd ? nil : bytes[position] }

    mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
            position += 1
        }
    }

    /// Consumes `byte` (after optional whitespace) or fails naming it.
    mutating func expect(_ byte: UInt8) throws(SyntaxError) {
        skipWhitespace()
        guard current == byte else { throw error("expected '\(Character(Unicode.Scalar(byte)))'") }
        position += 1
    }

    /// Consumes `byte` (after optional whitespace) if it is next.
    mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard current == byte else { return false }
        position += 1
        return true
    }

    /// Skips one value of any kind and returns its byte range (without surrounding whitespace).
    /// `depth` is the number of containers already open around it.
    mutating func skipValue(depth: Int = 0) throws(SyntaxError) -> Range<Int> {
        skipWhitespace()
        let start = position
        switch current {
        case UInt8(ascii: "{"): try skipObject(depth: depth + 1)
        case UInt8(ascii: "["): try skipArray(depth: depth + 1)
        case UInt8(ascii: "\""): _ = try readString()
        case UInt8(ascii: "t"): try skipLiteral("true")
        case UInt8(ascii: "f"): try skipLiteral("false")
        case UInt8(ascii: "n"): try skipLiteral("null")
        case nil: throw error("expected a value, found the end")
        default: _ = try readNumber()
        }
        return start..<position
    }

    /// Reads a string literal and returns its range including the quotes.
    mutating func readString() throws(SyntaxError) -> Range<Int> {
        let start = position
        guard consumeByte(UInt8(ascii: "\"")) else { throw error("expected a string") }
        while let byte = current {
            position += 1
            switch byte {
            case UInt8(ascii: "\""): return start..<position
            case UInt8(ascii: "\\"): try skipEscape()
            case ..<0x20: throw error("control character in a string", at: position - 1)
            default: continue
            }
        }
        throw error("unterminated string", at: start)
    }

    /// Reads a number literal (full JSON grammar) and returns its range.
    mutating func readNumber() throws(SyntaxError) -> Range<Int> {
        let start = position
        _ = consumeByte(UInt8(ascii: "-"))
        if !consumeByte(UInt8(ascii: "0")) {
            guard let byte = current, (0x31...0x39).contains(byte) else {
                throw error("expected a value")
            }
            skipDigits()
        }
        if consumeByte(UInt8(ascii: ".")) {
            try requireDigits()
        }
        if consumeByte(UInt8(ascii: "e")) || consumeByte(UInt8(ascii: "E")) {
            _ = consumeByte(UInt8(ascii: "+")) || consumeByte(UInt8(ascii: "-"))
            try requireDigits()
        }
        return start..<position
    }

    func error(_ reason: String, at offset: Int? = nil) -> SyntaxError {
        SyntaxError(offset: offset ?? position, reason: reason)
    }

    private mutating func skipObject(depth: Int) throws(SyntaxError) {
        try checkDepth(depth)
        position += 1
        if consume(UInt8(ascii: "}")) { return }
        repeat {
            skipWhitespace()
            _ = try readString()
            try expect(UInt8(ascii: ":"))
            _ = try skipValue(depth: depth)
        } while consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"))
    }

    private mutating func skipArray(depth: Int) throws(SyntaxError) {
        try checkDepth(depth)
        position += 1
        if consume(UInt8(ascii: "]")) { return }
        repeat {
            _ = try skipValue(depth: depth)
        } while consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"))
    }

    private func checkDepth(_ depth: Int) throws(SyntaxError) {
        guard depth <= maxDepth else { throw error("nested deeper than \(maxDepth) levels") }
    }

    private mutating func skipLiteral(_ word: StaticString) throws(SyntaxError) {
        let literal = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard bytes.count - position >= literal.count,
            bytes[position..<position + literal.count].elementsEqual(literal)
        else { throw error("expected a value") }
        position += literal.count
    }

    private mutating func skipEscape() throws(SyntaxError) {
        guard let byte = current else { throw error("unterminated string") }
        position += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
            UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return
        case UInt8(ascii: "u"):
            for _ in 0..<4 {
                guard let hex = current, hex.isHexDigit else { throw error("bad \\u escape") }
                position += 1
            }
        default:
            throw error("bad escape in a string", at: position - 1)
        }
    }

    private mutating func consumeByte(_ byte: UInt8) -> Bool {
        guard current == byte else { return false }
        position += 1
        return true
    }

    private mutating func skipDigits() {
        while let byte = current, byte.isDigit { position += 1 }
    }

    private mutating func requireDigits() throws(SyntaxError) {
        guard let byte = current, byte.isDigit else { throw error("expected a digit") }
        skipDigits()
    }
}

extension UInt8 {
    fileprivate var isDigit: Bool { (0x30...0x39).contains(self) }

    fileprivate var isHexDigit: Bool {
        isDigit || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
}
