import Testing

@testable import IMCore

@Suite struct UTF8ValidatorTests {
    @Test(arguments: [
        [UInt8](), Array("plain ASCII, long enough for the eight-byte path".utf8),
        Array("é € 😀 \u{7FF} \u{800} \u{FFFF} \u{10000} \u{10FFFF}".utf8),
        [0xED, 0x9F, 0xBF],  // U+D7FF, just below the surrogates
        [0xEE, 0x80, 0x80],  // U+E000, just above them
    ])
    func acceptsWellFormedText(_ bytes: [UInt8]) {
        #expect(UTF8Validator.isValid(bytes))
    }

    @Test(arguments: [
        [UInt8(0x80)],  // stray continuation
        [0xC0, 0xAF], [0xC1, 0xBF],  // overlong 2-byte
        [0xE0, 0x80, 0xAF], [0xE0, 0x9F, 0xBF],  // overlong 3-byte
        [0xF0, 0x80, 0x80, 0xAF], [0xF0, 0x8F, 0xBF, 0xBF],  // overlong 4-byte
        [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],  // surrogates
        [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF],  // past U+10FFFF
        [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98],  // truncated
        [0xC3, 0x41], [0xE2, 0x41, 0xAC],  // missing continuation
    ])
    func refusesMalformedText(_ bytes: [UInt8]) {
        #expect(!UTF8Validator.isValid(Array("abcdefgh".utf8) + bytes))
    }

    @Test func acceptsTextFedInAnyPieces() {
        let text = Array("aé€😀bcdefghijklmnop€".utf8)

        for cut in 0...text.count {
            var validator = UTF8Validator()
            let first = text[..<cut].withUnsafeBytes { validator.feed($0) }
            let second = text[cut...].withUnsafeBytes { validator.feed($0) }

            #expect(first && second && validator.isAtScalarBoundary, "cut at \(cut)")
        }
    }

    @Test func reportsAnUnfinishedCharacterBetweenPieces() {
        var validator = UTF8Validator()

        let valid = [UInt8]([0x61, 0xE2, 0x82]).withUnsafeBytes { validator.feed($0) }

        #expect(valid)
        #expect(!validator.isAtScalarBoundary)
    }

    @Test func failsAtTheFirstBadByteEvenBeforeTheEnd() {
        var validator = UTF8Validator()

        let valid = [UInt8]([0x61, 0xE2, 0x41]).withUnsafeBytes { validator.feed($0) }

        #expect(!valid)
    }
}

@Suite struct JSONTextValidationTests {
    private static func isValid(_ text: String) -> Bool {
        GoimJSON.isValidJSON(Array(text.utf8))
    }

    @Test(arguments: [
        "0", "-0", "1.5", "-12.25e+10", "1E-2", "true", "false", "null", #""""#,
        #""\"\\\/\b\f\n\r\t\u00AfZ""#, "[]", "{}", " [ 1 , [ ] , { } ] ", #"{"a":{"b":[null]}}"#,
        "\t\r\n 7 \t\r\n", #"{"":""}"#, #"["é😀"]"#,
    ])
    func acceptsStrictJSON(_ text: String) {
        #expect(Self.isValid(text))
    }

    @Test(arguments: [
        "", " ", "01", "-", "+1", "1.", ".5", "1e", "1e+", "0x10", "NaN", "Infinity", "tru",
        "nulls", "[", "]", "[1,]", "[,1]", "[1 2]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{a:1}",
        "{'a':1}", "\"unterminated", "\"\\x\"", "\"\\u12G4\"", "\"\\u12\"", "\"tab\there\"",
        "1 2", "{}{}", "[}", "{]",
    ])
    func refusesAnythingElse(_ text: String) {
        #expect(!Self.isValid(text))
    }

    @Test func refusesInvalidUTF8InsideAString() {
        #expect(!GoimJSON.isValidJSON([0x22, 0xC3, 0x22]))
    }

    @Test func acceptsNestingUpToTheLimitWithoutRecursion() {
        let depth = JSONTextValidator.maxDepth
        let deep =
            String(repeating: "[{\"k\":", count: depth / 2) + "1"
            + String(repeating: "}]", count: depth / 2)
        let tooDeep =
            String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1)

        #expect(Self.isValid(deep))
        #expect(!Self.isValid(tooDeep))
    }
}
