import Testing

@testable import IMLogic

@Suite struct PushsBodyTests {
    private func parse(_ json: String, _ configuration: LogicConfiguration = .init()) throws
        -> PushsBody
    {
        try PushsBody.parse(Array(json.utf8), configuration: configuration)
    }

    private func failure(_ json: String, _ configuration: LogicConfiguration = .init())
        -> LogicRequestError?
    {
        do {
            _ = try parse(json, configuration)
            return nil
        } catch {
            return error as? LogicRequestError
        }
    }

    @Test(arguments: [
        #"{"b": [1, 2]}"#, "null", "true", "-0.5e+10", #""\ud83d\ude00 \n""#, "[ ]", "{}",
        #"[{"x":[[],{}]}, 1, "a"]"#,
    ])
    func keepsTheMessageTextExactly(message: String) throws {
        let body = try parse(#"{"u":[1],"m":"# + message + "}")

        #expect(body.message == Array(message.utf8))
    }

    @Test func readsUsersInOrderWithoutDuplicates() throws {
        let body = try parse(
            " {\"x\":{\"u\":7},\r\n\"u\":[3,1,3,0,9223372036854775807,-0],\t\"m\":1} ")

        #expect(body.users == [3, 1, 0, 9_223_372_036_854_775_807])
        #expect(body.message == Array("1".utf8))
    }

    @Test func matchesEscapedKeys() throws {
        let body = try parse(#"{"\u0075":[5],"\u006d":"x"}"#)

        #expect(body.users == [5])
        #expect(body.message == Array(#""x""#.utf8))
    }

    @Test(arguments: [
        ("", "body must be a JSON object"),
        ("[1]", "body must be a JSON object"),
        (#"{"m":1}"#, #"missing "u""#),
        (#"{"u":[1]}"#, #"missing "m""#),
        (#"{"u":5,"m":1}"#, #""u" must be an array of user ids"#),
        (#"{"u":null,"m":1}"#, #""u" must be an array of user ids"#),
        (#"{"u":["1"],"m":1}"#, #""u" must hold only user ids"#),
        (#"{"u":[-1],"m":1}"#, "user id -1 is negative"),
        (#"{"u":[1.5],"m":1}"#, "is not a whole number"),
        (#"{"u":[1e3],"m":1}"#, "is not a whole number"),
        (#"{"u":[9223372036854775808],"m":1}"#, "is not a whole number"),
        (#"{"u":[1],"u":[2],"m":1}"#, #"key "u" appears twice"#),
        (#"{"u":[1],"m":1,"m":2}"#, #"key "m" appears twice"#),
        (#"{"u":[1],"m":1} x"#, "unexpected text after the object"),
        (#"{"u":[1],"m":}"#, "invalid JSON"),
        (#"{"u":[1],"m":[1,]}"#, "invalid JSON"),
        (#"{"u":[1,],"m":1}"#, #""u" must hold only user ids"#),
        (#"{"u":[1],"m":01}"#, "invalid JSON"),
        (#"{"u":[1],"m":"a\qb"}"#, "invalid JSON"),
        (#"{"u":[1],"m":"\u12"}"#, "invalid JSON"),
        (#"{"u":[1],"m":tru}"#, "invalid JSON"),
        (#"{"u":[1],"m":"open}"#, "invalid JSON"),
        ("{\"u\":[1],\"m\":\"tab\there\"}", "invalid JSON"),
        (#"{"u":[1] "m":1}"#, "invalid JSON"),
        (#"{"u":[1],"m":1"#, "invalid JSON"),
        (#"{u:[1],"m":1}"#, "invalid JSON"),
    ])
    func refusesMalformedBodies(json: String, reason: String) {
        let error = failure(json)

        #expect(error?.status == 400)
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "accepted")")
    }

    @Test func refusesInvalidUTF8() {
        let body: [UInt8] = Array(#"{"u":[1],"m":""#.utf8) + [0xFF] + Array(#""}"#.utf8)

        #expect(throws: LogicRequestError.badRequest("body is not valid UTF-8")) {
            try PushsBody.parse(body, configuration: .init())
        }
    }

    @Test func refusesNestingPastTheLimit() {
        let configuration = LogicConfiguration().with(maxJSONDepth: 4)
        let deep = String(repeating: "[", count: 100_000)

        #expect((try? parse(#"{"u":[1],"m":[[["ok"]]]}"#, configuration)) != nil)
        #expect(
            failure(#"{"u":[1],"m":[[[["no"]]]]}"#, configuration)?.message.contains(
                "nested deeper") == true)
        #expect(failure(#"{"u":[1],"m":"# + deep, .init())?.status == 400)
    }

    @Test func countsUsersAsSentAgainstTheLimit() {
        let configuration = LogicConfiguration().with(maxUsersPerPush: 2)

        #expect(failure(#"{"u":[1,1,1],"m":1}"#, configuration)?.status == 413)
        #expect((try? parse(#"{"u":[1,1],"m":1}"#, configuration))?.users == [1])
    }
}
