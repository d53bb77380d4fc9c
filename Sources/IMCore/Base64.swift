/// Standard base64 (RFC 4648 §4 alphabet, `=` padding), as goim's JSON carries message bytes.
/// Hand-written because dispatch messages encode and decode one per push.
public enum Base64 {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Maps an input byte to its 6-bit value; 0xFF for bytes outside the alphabet.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() {
            table[Int(byte)] = UInt8(index)
        }
        return table
    }()

    /// Length of the padded encoding of `count` bytes.
    public static func encodedCount(_ count: Int) -> Int {
        (count + 2) / 3 * 4
    }

    /// Appends the padded encoding of `bytes` to `output`.
    public static func encode(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: encodedCount(bytes.count)))
        output.withUnsafeMutableBufferPointer { buffer in
            _ = encode(bytes, to: buffer.baseAddress! + start)
        }
    }

    /// The padded encoding of `bytes` as a string.
    public static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        bytes.withUnsafeBytes { encode($0, into: &output) }
        return String(decoding: output, as: UTF8.self)
    }

    /// Writes the padded encoding of `bytes` at `target`, which must have room for
    /// `encodedCount(bytes.count)` bytes, and returns that count.
    static func encode(
        _ bytes: UnsafeRawBufferPointer, to target: UnsafeMutablePointer<UInt8>
    ) -> Int {
        alphabet.withUnsafeBufferPointer { table in
            var written = 0
            var index = 0
            while bytes.count - index >= 3 {
                let group =
                    UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
                    | UInt32(bytes[index + 2])
                writeGroup(group, characters: 4, table: table, to: target + written)
                index += 3
                written += 4
            }

            let tail = bytes.count - index
            guard tail > 0 else { return written }
            let second = tail == 2 ? UInt32(bytes[index + 1]) << 8 : 0
            writeGroup(
                UInt32(bytes[index]) << 16 | second, characters: tail + 1, table: table,
                to: target + written)
            for padding in (tail + 1)..<4 {
                target[written + padding] = UInt8(ascii: "=")
            }
            return written + 4
        }
    }

    /// Decodes padded standard base64; nil when the text is not valid base64 (wrong length,
    /// bytes outside the alphabet, misplaced padding). Unused trailing bits are ignored.
    public static func decode(_ text: UnsafeRawBufferPointer) -> [UInt8]? {
        guard text.count % 4 == 0 else { return nil }
        guard !text.isEmpty else { return [] }

        let padding = paddingCount(text)
        var valid = false
        let output = [UInt8](unsafeUninitializedCapacity: text.count / 4 * 3) { buffer, count in
            let written = values.withUnsafeBufferPointer { table in
                decodeGroups(text, padding: padding, table: table, into: buffer.baseAddress!)
            }
            valid = written != nil
            count = written ?? 0
        }
        return valid ? output : nil
    }

    /// Decodes the base64 text in `text`; nil when invalid.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var text = String(text)
        return text.withUTF8 { decode(UnsafeRawBufferPointer($0)) }
    }

    /// Writes the top `characters` 6-bit digits of a 24-bit group.
    @inline(__always)
    private static func writeGroup(
        _ group: UInt32, characters: Int, table: UnsafeBufferPointer<UInt8>,
        to target: UnsafeMutablePointer<UInt8>
    ) {
        for position in 0..<characters {
            target[position] = table[Int(group >> UInt32(18 - 6 * position) & 0x3F)]
        }
    }

    private static func paddingCount(_ text: UnsafeRawBufferPointer) -> Int {
        if text[text.count - 1] != UInt8(ascii: "=") { return 0 }
        return text[text.count - 2] == UInt8(ascii: "=") ? 2 : 1
    }

    /// Decodes whole 4-character groups (the last may carry `padding` `=` characters) into
    /// `target`; returns the bytes written, or nil on a byte outside the alphabet.
    private static func decodeGroups(
        _ text: UnsafeRawBufferPointer, padding: Int, table: UnsafeBufferPointer<UInt8>,
        into target: UnsafeMutablePointer<UInt8>
    ) -> Int? {
        var written = 0
        var group: UInt32 = 0
        for index in 0..<(text.count - padding) {
            let value = table[Int(text[index])]
            guard value != 0xFF else { return nil }

            group = group << 6 | UInt32(value)
            if index & 3 == 3 {
                target[written] = UInt8(truncatingIfNeeded: group >> 16)
                target[written + 1] = UInt8(truncatingIfNeeded: group >> 8)
                target[written + 2] = UInt8(truncatingIfNeeded: group)
                written += 3
                group = 0
            }
        }
        return written + writePartialGroup(group, padding: padding, to: target + written)
    }

    private static func writePartialGroup(
        _ group: UInt32, padding: Int, to target: UnsafeMutablePointer<UInt8>
    ) -> Int {
        switch padding {
        case 1:
            target[0] = UInt8(truncatingIfNeeded: group >> 10)
            target[1] = UInt8(truncatingIfNeeded: group >> 2)
            return 2
        case 2:
            target[0] = UInt8(truncatingIfNeeded: group >> 4)
            return 1
        default:
            return 0
        }
    }
}
