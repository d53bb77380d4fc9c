import IMTestKit
import Testing

@testable import IMCore

private func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

private func parse(_ text: String) throws -> Frame {
    try GoimJSON.parseRequest(utf8(text))
}

private func reply(_ frame: Frame) -> String {
    String(decoding: GoimJSONMessage.reply(frame).bytes, as: UTF8.self)
}

private func batch(_ bodies: [[UInt8]]) -> String {
    String(decoding: GoimJSONMessage.pushBatch(bodies).bytes, as: UTF8.self)
}

@Suite struct GoimJSONRequestTests {
    @Test func readsGoimsExampleRequests() throws {
        #expect(
            try parse(#"{"ver":1,"op":7,"seq":1,"body":123}"#)
                == Frame(ver: 1, op: 7, seq: 1, body: utf8("123")))
        #expect(
            try parse(#"{"ver":1,"op":2,"seq":2,"body":{}}"#)
                == Frame(ver: 1, op: 2, seq: 2, body: utf8("{}")))
    }

    @Test(arguments: [
        (#"{"ver":1,"op":7,"seq":1,"body":1001}"#, "1001"),
        (#"{"ver":1,"op":7,"seq":1,"body":"1001"}"#, #""1001""#),
        (#"{"op":7,"body": {"mid":1003, "room":7} }"#, #"{"mid":1003, "room":7}"#),
        (#"{"op":7,"body":[1, "a" ,null]}"#, #"[1, "a" ,null]"#),
        (#"{"op":7,"body":null}"#, "null"),
        (#"{"op":7,"body":-1.5e3}"#, "-1.5e3"),
        (#"{"op":7,"body":"\u00e9\n"}"#, #""\u00e9\n""#),
    ])
    func keepsTheBodyAsItsExactJSONText(_ message: String, _ body: String) throws {
        #expect(try parse(message).body == utf8(body))
    }

    @Test func defaultsMissingKeysToZeroAndAnEmptyBody() throws {
        #expect(try parse("{}") == Frame(ver: 0, op: 0, seq: 0, body: []))
        #expect(try parse(#"{"op":2}"#) == Frame(ver: 0, op: 2, seq: 0, body: []))
    }

    @Test func treatsNullNumbersAsZero() throws {
        #expect(try parse(#"{"ver":null,"op":null,"seq":null}"#) == Frame(ver: 0, op: 0, seq: 0))
    }

    @Test func acceptsAnyKeyOrderUnknownKeysAndSurroundingWhitespace() throws {
        let frame = try parse(
            " \n\t{ \"body\" : 7 , \"x\":{\"y\":[true,false]}, \"seq\":-3,\"op\":4,\"ver\":2 }\r\n "
        )

        #expect(frame == Frame(ver: 2, op: 4, seq: -3, body: utf8("7")))
    }

    @Test func matchesKeysIgnoringASCIICase() throws {
        #expect(
            try parse(#"{"VER":1,"Op":7,"sEq":3,"BODY":1}"#)
                == Frame(ver: 1, op: 7, seq: 3, body: utf8("1")))
    }

    @Test func keepsTheLastValueOfARepeatedKey() throws {
        #expect(try parse(#"{"op":2,"op":7,"body":1,"body":2}"#).op == 7)
        #expect(try parse(#"{"op":2,"op":7,"body":1,"body":2}"#).body == utf8("2"))
    }

    @Test func readsTheExtremesOfEachRange() throws {
        let message =
            #"{"ver":-32768,"op":2147483647,"seq":-2147483648}"#

        #expect(try parse(message) == Frame(ver: Int16.min, op: Int32.max, seq: Int32.min))
    }

    @Test(arguments: [
        (#"{"ver":1.5}"#, "ver"), (#"{"ver":1.0}"#, "ver"), (#"{"ver":1e2}"#, "ver"),
        (#"{"ver":"1"}"#, "ver"), (#"{"ver":32768}"#, "ver"), (#"{"ver":-32769}"#, "ver"),
        (#"{"ver":70000}"#, "ver"), (#"{"op":2147483648}"#, "op"), (#"{"op":true}"#, "op"),
        (#"{"seq":-2147483649}"#, "seq"), (#"{"seq":99999999999999999999999999}"#, "seq"),
        (#"{"op":[7]}"#, "op"), (#"{"op":-0.0}"#, "op"), (#"{"op":07}"#, "op"),
    ])
    func refusesNumbersOfTheWrongTypeOrRange(_ message: String, _ field: String) {
        let error = #expect(throws: GoimJSONError.self) { try parse(message) }

        guard case .invalidField(let name, _)? = error else {
            Issue.record("expected an invalid field error, got \(String(describing: error))")
            return
        }
        #expect(name == field)
    }

    @Test(arguments: [
        "", " ", "hello", "123", "\"x\"", "[]", #"[{"op":7}]"#, "null", "{", #"{"op":7"#,
        #"{"op":7}}"#, #"{"op":7} {"op":2}"#, #"{"op":7} x"#, #"{"op":7,}"#, #"{op:7}"#,
        #"{"op":7,"body":}"#, #"{"body":hello}"#, #"{"body":'x'}"#, #"{"x":tru}"#,
        #"{"body":"\x"}"#, "{\"body\":\"a\u{01}\"}",
    ])
    func refusesMalformedJSON(_ message: String) {
        let error = #expect(throws: GoimJSONError.self) { try parse(message) }

        if case .malformedJSON? = error {
        } else {
            Issue.record("expected malformed JSON, got \(String(describing: error))")
        }
    }

    @Test func refusesInvalidUTF8() {
        let message = utf8(#"{"body":""#) + [0xFF] + utf8(#""}"#)

        #expect(throws: GoimJSONError.invalidUTF8) { try GoimJSON.parseRequest(message) }
    }

    @Test func refusesABodyNestedTooDeeply() {
        let body = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)

        #expect(throws: GoimJSONError.self) { try parse(#"{"body":\#(body)}"#) }
    }
}

// MARK: - Replies and pushes

@Suite struct GoimJSONMessageTests {
    @Test func writesGoimsExampleReplies() {
        #expect(
            reply(Frame(ver: 1, op: 8, seq: 1)) == "[{\"ver\":1,\"op\":8,\"seq\":1,\"body\":{}}]\n")
        #expect(
            reply(Frame(ver: 1, op: 3, seq: 2)) == "[{\"ver\":1,\"op\":3,\"seq\":2,\"body\":{}}]\n")
    }

    @Test func writesGoimsExamplePush() {
        #expect(batch([utf8(#"{"test":1}"#)]) == #"[{"ver":0,"op":5,"seq":0,"body":{"test":1}}]"#)
    }

    @Test func writesABatchByteForByte() {
        let bodies = [utf8(#"{"test":1}"#), utf8(#"{"test":2}"#), utf8("3")]

        #expect(
            batch(bodies)
                == #"[{"ver":0,"op":5,"seq":0,"body":{"test":1}},"#
                + #"{"ver":0,"op":5,"seq":0,"body":{"test":2}},"#
                + #"{"ver":0,"op":5,"seq":0,"body":3}]"#)
    }

    @Test func writesAnEmptyBatchAsAnEmptyArray() {
        #expect(batch([]) == "[]")
    }

    @Test func writesNegativeAndExtremeHeaderValues() {
        let frame = Frame(ver: Int16.min, op: Int32.max, seq: -1, body: utf8("0"))

        #expect(reply(frame) == "[{\"ver\":-32768,\"op\":2147483647,\"seq\":-1,\"body\":0}]\n")
    }

    @Test func echoesARequestBodyAsItCame() throws {
        let request = try parse(#"{"ver":1,"op":4,"seq":5,"body": {"a" : [1, 2]} }"#)

        let text = reply(request.reply(op: Operation.sendMessageReply, body: request.body))

        #expect(text == "[{\"ver\":1,\"op\":5,\"seq\":5,\"body\":{\"a\" : [1, 2]}}]\n")
    }

    @Test func measuresExactlyWhatItWrites() {
        let message = GoimJSONMessage.pushBatch([utf8("hé\"llo\u{1}"), [0xFF], [], utf8("[1]")])
        var buffer = [UInt8](repeating: 0xEE, count: message.encodedCount + 8)

        let written = buffer.withUnsafeMutableBytes { message.write(into: $0) }

        #expect(written == message.encodedCount)
        #expect(Array(buffer[..<written]) == message.bytes)
        #expect(buffer[written...].allSatisfy { $0 == 0xEE })
        #expect(message.chunk.bytes == message.bytes)
    }
}

// MARK: - The body rule

@Suite struct GoimJSONBodyRuleTests {
    @Test(arguments: [
        #"{"test":1}"#, "123", "-0.5e-3", #""a string""#, "[]", "null", "true",
        " {\"spaced\" : 1}\n", #"{"nested":{"deep":[{"x":"\u00e9\ud83d\ude00"}]}}"#,
        "\"é€😀\"",
    ])
    func passesValidJSONThroughUnchanged(_ body: String) {
        #expect(batch([utf8(body)]) == #"[{"ver":0,"op":5,"seq":0,"body":"# + body + "}]")
    }

    @Test(arguments: [
        ("hello", #""hello""#),
        (#"{"a":1"#, #""{\"a\":1""#),
        ("say \"hi\"\\", #""say \"hi\"\\""#),
        ("tab\tline\ncr\r\u{8}\u{C}", #""tab\tline\ncr\r\b\f""#),
        ("\u{1}\u{1F}\u{7F}", #""\u0001\u001f\#u{7F}""#),
        ("héllo €", #""héllo €""#),
        ("01", #""01""#),
        ("{} {}", #""{} {}""#),
    ])
    func wrapsOtherTextInAJSONString(_ body: String, _ written: String) {
        #expect(batch([utf8(body)]) == #"[{"ver":0,"op":5,"seq":0,"body":"# + written + "}]")
    }

    @Test func writesAnEmptyBodyAsAnEmptyObject() {
        #expect(batch([[]]) == #"[{"ver":0,"op":5,"seq":0,"body":{}}]"#)
    }

    @Test func writesBytesThatAreNotUTF8AsBase64() {
        let body: [UInt8] = [0xFF, 0x00, 0x61]

        #expect(batch([body]) == #"[{"ver":0,"op":5,"seq":0,"body":{"base64":"/wBh"}}]"#)
    }

    @Test func wrapsJSONNestedDeeperThanTheLimit() {
        let body = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)

        #expect(batch([utf8(body)]) == #"[{"ver":0,"op":5,"seq":0,"body":""# + body + #""}]"#)
    }

    @Test func alwaysWritesValidJSON() throws {
        var random = SeededGenerator(seed: 42)
        for _ in 0..<300 {
            let bodies = (0..<Int.random(in: 0...4, using: &random)).map { _ in
                Self.randomBody(using: &random)
            }

            let message = GoimJSONMessage.pushBatch(bodies).bytes

            #expect(GoimJSON.isValidJSON(message), "\(bodies)")
            #expect(try GoimJSON.decodeServerMessage(message).count == bodies.count)
        }
    }

    /// Bodies drawn from bytes that matter to JSON: quotes, escapes, brackets, control
    /// characters, UTF-8 lead and continuation bytes.
    private static func randomBody(using random: inout SeededGenerator) -> [UInt8] {
        let alphabet: [UInt8] =
            Array("{}[]\",:\\ 0123ae-.nul".utf8) + [0x01, 0x0A, 0xC3, 0xA9, 0xFF, 0xE2, 0x82, 0xAC]
        return (0..<Int.random(in: 0...12, using: &random)).map { _ in
            alphabet[Int.random(in: 0..<alphabet.count, using: &random)]
        }
    }
}

// MARK: - Reading server messages

@Suite struct GoimJSONServerMessageTests {
    @Test func readsGoimsReplyWithItsNewline() throws {
        let frames = try GoimJSON.decodeServerMessage(
            utf8("[{\"ver\":1,\"op\":8,\"seq\":1,\"body\":{}}]\n"))

        #expect(frames == [Frame(ver: 1, op: 8, seq: 1, body: utf8("{}"))])
    }

    @Test func readsBackABatchItWrote() throws {
        let bodies = [utf8(#"{"test":1}"#), utf8("2"), utf8(#""three""#)]

        let frames = try GoimJSON.decodeServerMessage(GoimJSONMessage.pushBatch(bodies).bytes)

        #expect(frames == bodies.map(Frame.push))
    }

    @Test func readsAnEmptyArray() throws {
        #expect(try GoimJSON.decodeServerMessage(utf8(" [ ] ")) == [])
    }

    @Test(arguments: [#"{"op":5}"#, "[1]", "[{}", "[{}] x", #"[{"op":"5"}]"#, ""])
    func refusesWhatIsNotAnArrayOfGoimObjects(_ message: String) {
        #expect(throws: GoimJSONError.self) { try GoimJSON.decodeServerMessage(utf8(message)) }
    }
}
