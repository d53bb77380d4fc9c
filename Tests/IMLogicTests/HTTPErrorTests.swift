import IMCore
import IMNet
import Testing

@testable import IMLogic

@Suite struct HTTPErrorTests {
    @Test(arguments: ["/", "/1/push/", "/1/Push", "/2/push", "/1/count/x", ""])
    func unknownPathIsNotFound(path: String) async throws {
        let fixture = try LogicFixture()

        let response = await fixture.post(path)

        #expect(response.status == 404)
        #expect(response.isGoimFailure)
        #expect(response.contentType == "application/json")
    }

    @Test(arguments: [
        ("GET", "/1/push", "POST"), ("PUT", "/1/pushs", "POST"), ("GET", "/1/push/all", "POST"),
        ("DELETE", "/1/push/room", "POST"), ("GET", "/1/server/del", "POST"),
        ("POST", "/1/count", "GET, HEAD"), ("PUT", "/healthz", "GET, HEAD"),
        ("HEAD", "/1/push", "POST"),
    ])
    func wrongMethodIsNotAllowed(method: String, path: String, allowed: String) async throws {
        let fixture = try LogicFixture()

        let response = await fixture.logic.handle(
            HTTPRequest(method: method, path: path, queryItems: [("uid", "1"), ("type", "room")]))

        #expect(response.status == 405)
        #expect(response.header("Allow") == allowed)
        #expect(
            response.text
                == #"{"ret":65535,"msg":"method \"\#(method)\" not allowed, use \#(allowed)"}"#)
        #expect(fixture.publisher.messages.isEmpty)
    }

    @Test(arguments: [
        ("/1/push", "uid", [String?.none, "", "abc", "-1", "1.0", " 1", "9223372036854775808"]),
        ("/1/push/room", "rid", [nil, "x", "-5", "2147483648", "4294967297"]),
        ("/1/server/del", "server", [nil, "one", "-1", "2147483648"]),
    ])
    func badIdIsBadRequest(path: String, name: String, values: [String?]) async throws {
        let fixture = try LogicFixture()

        for value in values {
            let response = await fixture.post(path, value.map { [(name, $0)] } ?? [], json: "{}")

            #expect(response.status == 400, "\(name)=\(value ?? "nil")")
            #expect(response.isGoimFailure)
            #expect(response.text.contains(name))
        }
        #expect(fixture.publisher.messages.isEmpty)
        #expect(fixture.logic.metrics.rejectedRequests.current == values.count)
    }

    @Test func errorMessagesQuoteCallerTextSafely() async throws {
        let fixture = try LogicFixture()

        let response = await fixture.post("/1/push", [("uid", "\"\\\n\u{1}")])

        let message = #"uid must be an integer from 0 to 9223372036854775807, got \"\"\\\n\u0001\""#
        #expect(response.text == #"{"ret":65535,"msg":"\#(message)"}"#)
    }

    @Test func longCallerTextIsCutShort() async throws {
        let fixture = try LogicFixture()

        let response = await fixture.post("/1/" + String(repeating: "x", count: 10_000))

        #expect(response.status == 404)
        #expect(response.body.count < 200)
    }

    @Test func plusSignedIdIsAccepted() async throws {
        let fixture = try LogicFixture()

        let response = await fixture.post("/1/push/room", [("rid", "+3")])

        #expect(response.status == 200)
        #expect(fixture.publisher.messages.map(\.room) == [3])
    }
}
