import IMCore
import Testing

@Suite struct DispatchMessageJSONTests {
    static let testBody = Array(#"{"test":1}"#.utf8)

    static let goimExamples: [(String, DispatchMessage)] = [
        (
            #"{"op":"multiple","server":1,"subkeys":["123_1","123_4"],"msg":"eyJ0ZXN0IjoxfQ=="}"#,
            .multiple(
                server: 1, keys: [SessionKey(user: 123, seq: 1), SessionKey(user: 123, seq: 4)],
                body: testBody)
        ),
        (#"{"op":"broadcast","msg":"eyJ0ZXN0IjoxfQ=="}"#, .broadcast(body: testBody)),
        (
            #"{"op":"broadcast_room","roomid":1,"msg":"eyJ0ZXN0IjoxfQ==","ensure":true}"#,
            .broadcastRoom(1, body: testBody, ensure: true)
        ),
    ]

    @Test(arguments: 0..<3)
    func encodesGoimExamplesByteForByte(index: Int) {
        let (json, message) = Self.goimExamples[index]

        #expect(String(decoding: message.jsonBytes(), as: UTF8.self) == json)
    }

    @Test(arguments: 0..<3)
    func decodesGoimExamples(index: Int) throws {
        let (json, message) = Self.goimExamples[index]

        #expect(try DispatchMessage(json: Array(json.utf8)) == message)
    }

    @Test func roundTripsEveryField() throws {
        let messages: [DispatchMessage] = [
            DispatchMessage(
                kind: .multiple, server: -5, keys: [SessionKey(user: Int64.max, seq: Int32.min)],
                room: Int32.min, body: Array(0...255), ensure: true),
            .broadcast(body: []),
            .broadcastRoom(0, body: [0], ensure: false),
            .multiple(server: 1, keys: [], body: [1, 2]),
        ]

        for message in messages {
            #expect(try DispatchMessage(json: message.jsonBytes()) == message)
        }
    }

    @Test func omitsZeroAndEmptyFields() {
        let json = String(
            decoding: DispatchMessage.broadcastRoom(0, body: [], ensure: false).jsonBytes(),
            as: UTF8.self)

        #expect(json == #"{"op":"broadcast_room","msg":""}"#)
    }

    @Test func ignoresKeyOrderUnknownKeysAndWhitespace() throws {
        let json = """
            { "msg" : "eyJ0ZXN0IjoxfQ==", "extra": [1, {"x": null}, "s", true, -2.5e3],
              "ensure": true, "roomid": 1, "op": "broadcast_room", "future": {} }
            """

        #expect(
            try DispatchMessage(json: Array(json.utf8))
                == .broadcastRoom(1, body: Self.testBody, ensure: true))
    }

    @Test func treatsNullAsAbsent() throws {
        let json =
            #"{"op":"multiple","server":null,"subkeys":null,"roomid":null,"msg":null,"ensure":null}"#

        #expect(
            try DispatchMessage(json: Array(json.utf8)) == .multiple(server: 0, keys: [], body: []))
    }

    @Test func decodesEscapedStrings() throws {
        let json = #"{"op":"broad\u0063ast","msg":"eyJ0ZXN0Ijox\/Q=="}"#

        let message = try DispatchMessage(json: Array(json.utf8))

        #expect(message.kind == .broadcast)
        #expect(message.body == Base64.decode("eyJ0ZXN0Ijox/Q=="))
    }

    @Test(arguments: [
        ("", "malformed"), ("[]", "malformed"), ("{", "malformed"),
        (#"{"op":"broadcast""#, "malformed"),
        (#"{"op":"broadcast","msg":""} extra"#, "malformed"), ("null", "malformed"),
        (#"{"msg":""}"#, "missing"), (#"{"op":null}"#, "missing"),
        (#"{"op":"unicast"}"#, "unknown"), (#"{"op":"Broadcast"}"#, "unknown"),
        (#"{"op":"multiple","subkeys":["123"]}"#, "key"),
        (#"{"op":"multiple","subkeys":["a_1"]}"#, "key"),
        (#"{"op":"multiple","subkeys":["1_2147483648"]}"#, "key"),
        (#"{"op":"broadcast","msg":"abc"}"#, "base64"),
        (#"{"op":"broadcast","msg":"ab!="}"#, "base64"),
        (#"{"op":"broadcast","msg":"=abc"}"#, "base64"),
        (#"{"op":1}"#, "field"), (#"{"op":"broadcast_room","roomid":2147483648}"#, "field"),
        (#"{"op":"broadcast_room","roomid":1.5}"#, "field"),
        (#"{"op":"broadcast_room","roomid":"1"}"#, "field"),
        (#"{"op":"broadcast_room","ensure":1}"#, "field"),
        (#"{"op":"multiple","server":true}"#, "field"),
        (#"{"op":"multiple","subkeys":[1]}"#, "field"), (#"{"op":"broadcast","msg":5}"#, "field"),
    ])
    func rejectsBadInputWithAClearError(json: String, kind: String) {
        let error = #expect(throws: DispatchMessageError.self) {
            try DispatchMessage(json: Array(json.utf8))
        }
        guard let error else { return }

        #expect(Self.kind(of: error) == kind, "\(error)")
        #expect(!error.description.isEmpty)
    }

    @Test func namesTheBadFieldInTheError() {
        let error = #expect(throws: DispatchMessageError.self) {
            try DispatchMessage(json: Array(#"{"op":"broadcast_room","roomid":"x"}"#.utf8))
        }

        #expect(error?.description.contains("roomid") == true)
    }

    static func kind(of error: DispatchMessageError) -> String {
        switch error {
        case .malformedJSON: return "malformed"
        case .missingOperation: return "missing"
        case .unknownOperation: return "unknown"
        case .invalidSessionKey: return "key"
        case .invalidBase64: return "base64"
        case .invalidField: return "field"
        }
    }
}

@Suite struct Base64Tests {
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ])
    func matchesRFC4648Vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test func roundTripsEveryByteValue() {
        for length in 0..<70 {
            let bytes = (0..<length).map { UInt8(($0 * 37 + length) & 0xFF) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
    }

    @Test(arguments: ["Zg", "Zg=", "Z===", "====", "Zm9v YmFy", "Zm-v", "Zm9v\n", "Zg==Zg=="])
    func rejectsInvalidText(text: String) {
        #expect(Base64.decode(text) == nil)
    }
}
