/// Percent-decoding for request targets (RFC 3986 §2.1). http_parser checks the characters of
/// the target but leaves escapes alone, so decoding is ours.
enum HTTPPercentDecoding {
    /// Decodes `%XX` escapes (and `+` as a space when `plusAsSpace`). Returns nil when a `%` is
    /// not followed by two hex digits. Decoded bytes that are not UTF-8 become U+FFFD.
    static func decode(_ bytes: ArraySlice<UInt8>, plusAsSpace: Bool) -> String? {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)

        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex,
                    let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
                else { return nil }
                decoded.append(high << 4 | low)
                index += 3
            } else {
                let isSpace = plusAsSpace && byte == UInt8(ascii: "+")
                decoded.append(isSpace ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        return String(decoding: decoded, as: UTF8.self)
    }

    /// Splits a query string into items: `&` separates items (empty ones are skipped), the first
    /// `=` splits name from value, and both are decoded with `+` as a space. Nil on a bad escape.
    static func queryItems(_ query: ArraySlice<UInt8>) -> [(name: String, value: String)]? {
        var items: [(name: String, value: String)] = []
        for item in query.split(separator: UInt8(ascii: "&")) {
            let equals = item.firstIndex(of: UInt8(ascii: "=")) ?? item.endIndex
            let rawValue = equals < item.endIndex ? item[(equals + 1)...] : item[equals...]

            guard let name = decode(item[..<equals], plusAsSpace: true),
                let value = decode(rawValue, plusAsSpace: true)
            else { return nil }
            items.append((name, value))
        }
        return items
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
