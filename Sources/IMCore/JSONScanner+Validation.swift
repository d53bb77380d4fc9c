extension JSONScanner {
    /// Whether `bytes` is one strict JSON text (RFC 8259): a single value, optionally surrounded
    /// by whitespace, in well-formed UTF-8, nested at most `JSONTextValidator.maxDepth` deep.
    ///
    /// Unlike `skipValue`, this checks the UTF-8 inside strings and does not recurse, so it is
    /// safe on any input. It allocates only for nesting deeper than 64.
    static func isValidJSONText(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard UTF8Validator.isValid(bytes) else { return false }

        var validator = JSONTextValidator(bytes)
        return validator.validate()
    }
}

/// A non-recursive strict JSON grammar check over bytes already known to be valid UTF-8.
struct JSONTextValidator {
    /// Deeper nesting is refused: a text that deep would also break many clients' parsers.
    static let maxDepth = 512

    /// What the grammar allows next.
    private enum State {
        case value
        case firstElement  // a value or `]`
        case firstKey  // a key or `}`
        case key
        case afterValue
    }

    private let bytes: UnsafeRawBufferPointer
    private var offset = 0
    private var containers = ContainerStack()

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    mutating func validate() -> Bool {
        var state = State.value
        while true {
            skipWhitespace()
            if state == .afterValue, containers.isEmpty { return offset == bytes.count }
            guard offset < bytes.count, let next = step(from: state) else { return false }
            state = next
        }
    }

    private mutating func step(from state: State) -> State? {
        switch state {
        case .value: return startValue(allowingClose: false)
        case .firstElement: return startValue(allowingClose: true)
        case .firstKey: return readKey(allowingClose: true)
        case .key: return readKey(allowingClose: false)
        case .afterValue: return continueContainer()
        }
    }

    private mutating func startValue(allowingClose: Bool) -> State? {
        let byte = bytes[offset]
        if allowingClose, byte == UInt8(ascii: "]") { return closeContainer() }

        switch byte {
        case UInt8(ascii: "{"): return openContainer(isObject: true) ? .firstKey : nil
        case UInt8(ascii: "["): return openContainer(isObject: false) ? .firstElement : nil
        case UInt8(ascii: "\""): return scanString() ? .afterValue : nil
        case UInt8(ascii: "t"): return scanLiteral("true") ? .afterValue : nil
        case UInt8(ascii: "f"): return scanLiteral("false") ? .afterValue : nil
        case UInt8(ascii: "n"): return scanLiteral("null") ? .afterValue : nil
        default: return scanNumber() ? .afterValue : nil
        }
    }

    private mutating func readKey(allowingClose: Bool) -> State? {
        if allowingClose, bytes[offset] == UInt8(ascii: "}") { return closeContainer() }
        guard bytes[offset] == UInt8(ascii: "\""), scanString() else { return nil }

        skipWhitespace()
        guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { return nil }
        offset += 1
        return .value
    }

    /// After a value inside a container: `,` or the container's closing bracket.
    private mutating func continueContainer() -> State? {
        let inObject = containers.topIsObject
        switch bytes[offset] {
        case UInt8(ascii: ","):
            offset += 1
            return inObject ? .key : .value
        case UInt8(ascii: "}") where inObject, UInt8(ascii: "]") where !inObject:
            return closeContainer()
        default:
            return nil
        }
    }

    private mutating func openContainer(isObject: Bool) -> Bool {
        offset += 1
        return containers.push(isObject: isObject)
    }

    private mutating func closeContainer() -> State {
        offset += 1
        containers.pop()
        return .afterValue
    }

    private mutating func skipWhitespace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    private mutating func scanLiteral(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - offset >= count else { return false }
        for index in 0..<count where bytes[offset + index] != literal.utf8Start[index] {
            return false
        }
        offset += count
        return true
    }
}

// MARK: - Strings and numbers

extension JSONTextValidator {
    /// A string from its opening quote to its closing quote. Bytes >= 0x80 were already
    /// checked as UTF-8; control characters must be escaped.
    private mutating func scanString() -> Bool {
        offset += 1
        while offset < bytes.count {
            let byte = bytes[offset]
            offset += 1
            switch byte {
            case UInt8(ascii: "\""): return true
            case UInt8(ascii: "\\"): guard scanEscape() else { return false }
            case ..<0x20: return false
            default: continue
            }
        }
        return false
    }

    private mutating func scanEscape() -> Bool {
        guard offset < bytes.count else { return false }
        let byte = bytes[offset]
        offset += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
            UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return true
        case UInt8(ascii: "u"):
            guard bytes.count - offset >= 4 else { return false }
            for _ in 0..<4 {
                guard Self.isHexDigit(bytes[offset]) else { return false }
                offset += 1
            }
            return true
        default:
            return false
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func scanNumber() -> Bool {
        consume(UInt8(ascii: "-"))
        guard offset < bytes.count, Self.isDigit(bytes[offset]) else { return false }
        if bytes[offset] == UInt8(ascii: "0") {
            offset += 1
        } else {
            _ = scanDigits()
        }

        if consume(UInt8(ascii: ".")), !scanDigits() { return false }
        if consume(UInt8(ascii: "e")) || consume(UInt8(ascii: "E")) {
            if !consume(UInt8(ascii: "+")) { consume(UInt8(ascii: "-")) }
            return scanDigits()
        }
        return true
    }

    /// Consumes one or more digits; false when there is none.
    private mutating func scanDigits() -> Bool {
        let start = offset
        while offset < bytes.count, Self.isDigit(bytes[offset]) {
            offset += 1
        }
        return offset > start
    }

    @discardableResult
    private mutating func consume(_ byte: UInt8) -> Bool {
        guard offset < bytes.count, bytes[offset] == byte else { return false }
        offset += 1
        return true
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte | 0x20) &- UInt8(ascii: "a") < 6
    }
}

// MARK: - Container stack

/// One bit per open container (object or array): 64 levels inline, deeper ones in an array
/// allocated only when needed.
private struct ContainerStack {
    private var inline: UInt64 = 0
    private var spilled: [UInt64] = []
    private(set) var depth = 0

    var isEmpty: Bool { depth == 0 }

    /// Whether the innermost container is an object. Only valid when not empty.
    var topIsObject: Bool { bit(at: depth - 1) }

    /// Opens a container; false past `JSONTextValidator.maxDepth`.
    mutating func push(isObject: Bool) -> Bool {
        guard depth < JSONTextValidator.maxDepth else { return false }

        let word = depth / 64
        let mask: UInt64 = 1 << UInt64(depth % 64)
        if word == 0 {
            inline = isObject ? inline | mask : inline & ~mask
        } else {
            if spilled.count < word { spilled.append(0) }
            spilled[word - 1] = isObject ? spilled[word - 1] | mask : spilled[word - 1] & ~mask
        }
        depth += 1
        return true
    }

    mutating func pop() {
        depth -= 1
    }

    private func bit(at index: Int) -> Bool {
        let word = index / 64
        let value = word == 0 ? inline : spilled[word - 1]
        return value & (1 << UInt64(index % 64)) != 0
    }
}
