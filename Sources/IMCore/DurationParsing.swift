/// Durations and byte sizes as written in flags, environment variables and config files.

extension Duration {
    /// Parses a duration such as `500ms`, `2s`, `1.5s`, `5m`, `1h` or `1m30s`: one or more
    /// `<number><unit>` parts, the number an integer or decimal, the unit one of `ns`, `us`,
    /// `ms`, `s`, `m`, `h`. A bare `0` is zero. Surrounding whitespace is ignored.
    ///
    /// Returns nil for anything else: an empty string, a missing or unknown unit, a sign, inner
    /// spaces, or a total over Int64 nanoseconds (about 292 years). Digits past nanosecond
    /// precision are dropped.
    public init?(parsing text: some StringProtocol) {
        let trimmed = text.trimmingASCIIWhitespace()
        if trimmed == "0" {
            self = .zero
            return
        }
        guard let nanoseconds = DurationParser.nanoseconds(in: Array(trimmed.utf8)) else {
            return nil
        }
        self = .nanoseconds(nanoseconds)
    }

    /// The shortest exact form `Duration(parsing:)` reads back: `5s`, `500ms`, `5m`, `1m30s`,
    /// `1h`, `0s`. Whole seconds are written as hours, minutes and seconds; other values in
    /// the largest of ms, us, ns that is exact. Negative durations get a leading `-`; parts
    /// below a nanosecond are dropped.
    public var shortDescription: String {
        guard self >= .zero else { return "-" + (Duration.zero - self).shortDescription }

        let (seconds, attoseconds) = components
        let nanoseconds = attoseconds / 1_000_000_000
        if nanoseconds == 0 {
            return DurationParser.clockText(seconds: seconds)
        }
        return DurationParser.subsecondText(seconds: seconds, nanoseconds: nanoseconds)
    }
}

/// Byte sizes such as `4KiB`, `1MiB`, `512`.
public enum ByteSize {
    /// Parses a byte size: a plain non-negative integer is bytes; the suffixes `k`, `KB`, `KiB`
    /// mean 1024, `m`, `MB`, `MiB` 1024², `g`, `GB`, `GiB` 1024³ (case-insensitive; `B` alone
    /// means bytes). Surrounding whitespace is ignored. Returns nil for anything else, a
    /// negative number, or a value over `Int.max`.
    public static func parse(_ text: some StringProtocol) -> Int? {
        let trimmed = text.trimmingASCIIWhitespace()
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let value = Int(digits),
            let multiplier = multiplier(for: trimmed.dropFirst(digits.count).lowercased())
        else { return nil }

        let (bytes, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }

    /// The shortest exact form `parse` reads back: `1GiB`, `4KiB`, `1536` (plain bytes when
    /// no binary unit divides the value), `0`.
    public static func format(_ bytes: Int) -> String {
        for (unit, size) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        where bytes != 0 && bytes % size == 0 {
            return "\(bytes / size)\(unit)"
        }
        return "\(bytes)"
    }

    private static func multiplier(for suffix: String) -> Int? {
        switch suffix {
        case "", "b": return 1
        case "k", "kb", "kib": return 1 << 10
        case "m", "mb", "mib": return 1 << 20
        case "g", "gb", "gib": return 1 << 30
        default: return nil
        }
    }
}

/// The grammar behind `Duration(parsing:)` and `shortDescription`.
private enum DurationParser {
    static let units: [(name: String, nanoseconds: Int64)] = [
        ("ns", 1), ("us", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
        ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

    /// Sums every `<number><unit>` part of `text`; nil on any error or overflow.
    static func nanoseconds(in text: [UInt8]) -> Int64? {
        guard !text.isEmpty else { return nil }

        var total: Int64 = 0
        var index = 0
        while index < text.count {
            guard let (part, next) = part(of: text, at: index) else { return nil }

            let (sum, overflow) = total.addingReportingOverflow(part)
            guard !overflow else { return nil }
            total = sum
            index = next
        }
        return total
    }

    /// One `<number><unit>` part at `start`: its nanoseconds and the index after it.
    private static func part(of text: [UInt8], at start: Int) -> (Int64, Int)? {
        var index = start
        let whole = digitRun(text, &index)
        var fraction: ArraySlice<UInt8> = []
        if index < text.count, text[index] == UInt8(ascii: ".") {
            index += 1
            fraction = digitRun(text, &index)
        }
        guard !whole.isEmpty || !fraction.isEmpty else { return nil }

        let unitStart = index
        while index < text.count, isUnitLetter(text[index]) { index += 1 }
        guard let unit = unitNanoseconds(text[unitStart..<index]) else { return nil }
        return scaled(whole: whole, fraction: fraction, unit: unit).map { ($0, index) }
    }

    private static func digitRun(_ text: [UInt8], _ index: inout Int) -> ArraySlice<UInt8> {
        let start = index
        while index < text.count, text[index] &- UInt8(ascii: "0") < 10 { index += 1 }
        return text[start..<index]
    }

    private static func isUnitLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
    }

    private static func unitNanoseconds(_ name: ArraySlice<UInt8>) -> Int64? {
        units.first { $0.name.utf8.elementsEqual(name) }?.nanoseconds
    }

    /// `whole.fraction` units in nanoseconds; nil on overflow.
    private static func scaled(
        whole: ArraySlice<UInt8>, fraction: ArraySlice<UInt8>, unit: Int64
    ) -> Int64? {
        guard let wholeValue = decimal(whole) else { return nil }
        let (wholeNanos, overflow) = wholeValue.multipliedReportingOverflow(by: unit)
        guard !overflow else { return nil }

        // Each fraction digit is worth unit / 10^k; digits that round below 1 ns are dropped.
        var fractionNanos: Int64 = 0
        var place = unit
        for digit in fraction {
            place /= 10
            guard place > 0 else { break }
            fractionNanos += Int64(digit - UInt8(ascii: "0")) * place
        }
        let (sum, sumOverflow) = wholeNanos.addingReportingOverflow(fractionNanos)
        return sumOverflow ? nil : sum
    }

    private static func decimal(_ digits: ArraySlice<UInt8>) -> Int64? {
        var value: Int64 = 0
        for digit in digits {
            let (times10, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (next, overflowB) = times10.addingReportingOverflow(
                Int64(digit - UInt8(ascii: "0")))
            guard !overflowA, !overflowB else { return nil }
            value = next
        }
        return value
    }

    /// Whole seconds as `1h2m3s`, skipping zero parts; `0s` for zero.
    static func clockText(seconds: Int64) -> String {
        guard seconds != 0 else { return "0s" }

        let parts = [(seconds / 3600, "h"), (seconds / 60 % 60, "m"), (seconds % 60, "s")]
        return parts.filter { $0.0 != 0 }.map { "\($0.0)\($0.1)" }.joined()
    }

    /// A value with a sub-second part, in the largest exact unit among ms, us, ns.
    static func subsecondText(seconds: Int64, nanoseconds: Int64) -> String {
        guard seconds < Int64.max / 1_000_000_000 else { return clockText(seconds: seconds) }

        let units: [(String, Int64)] = [("ms", 1_000_000), ("us", 1_000)]
        for (unit, size) in units where nanoseconds % size == 0 {
            return "\(seconds * (1_000_000_000 / size) + nanoseconds / size)\(unit)"
        }
        return "\(seconds * 1_000_000_000 + nanoseconds)ns"
    }
}

extension StringProtocol {
    fileprivate func trimmingASCIIWhitespace() -> Substring {
        let text = Substring(self)
        guard let first = text.firstIndex(where: { !$0.isWhitespace }),
            let last = text.lastIndex(where: { !$0.isWhitespace })
        else { return text[text.endIndex...] }
        return text[first...last]
    }
}
