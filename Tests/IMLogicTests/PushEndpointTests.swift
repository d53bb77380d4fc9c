import IMCore
import IMNet
import Testing

@testable import IMLogic

@Suite struct PushEndpointTests {
    @Test func pushToUserPublishesOneMultiplePerServer() async throws {
        let fixture = try LogicFixture()
        let phone = try await fixture.connect(7, server: 1)
        let laptop = try await fixture.connect(7, server: 2)
        let tablet = try await fixture.connect(7, server: 1)
        try await fixture.connect(8, server: 1)

        let response = await fixture.post("/1/push", [("uid", "7")], json: #"{"hi":1}"#)

        #expect(response.status == 200)
        #expect(response.text == #"{"ret":1}"#)
        #expect(response.contentType == "application/json")
        #expect(
            fixture.publisher.messages == [
                .multiple(server: 1, keys: [phone, tablet], body: Array(#"{"hi":1}"#.utf8)),
                .multiple(server: 2, keys: [laptop], body: Array(#"{"hi":1}"#.utf8)),
            ])
    }

    @Test func pushPassesNonUTF8BodyThroughUnchanged() async throws {
        let fixture = try LogicFixture()
        let key = try await fixture.connect(3, server: 4)
        let body: [UInt8] = [0xFF, 0x00, 0xC3, 0x28, 0x0A]

        let response = await fixture.post("/1/push", [("uid", "3")], body: body)

        #expect(response.status == 200)
        #expect(fixture.publisher.messages == [.multiple(server: 4, keys: [key], body: body)])
    }

    @Test func pushToOfflineUserSucceedsWithoutPublishing() async throws {
        let fixture = try LogicFixture()

        let response = await fixture.post("/1/push", [("uid", "99")], json: "{}")

        #expect(response.text == #"{"ret":1}"#)
        #expect(fixture.publisher.messages.isEmpty)
        #expect(fixture.logic.metrics.pushes(.push).current == 1)
    }

    @Test func pushAllPublishesBroadcast() async throws {
        let fixture = try LogicFixture()
        let body: [UInt8] = [0x80, 0x81, 0x7B]

        let response = await fixture.post("/1/push/all", body: body)

        #expect(response.text == #"{"ret":1}"#)
        #expect(fixture.publisher.messages == [.broadcast(body: body)])
        #expect(fixture.logic.metrics.pushes(.all).current == 1)
        #expect(fixture.logic.metrics.messagesPublished.current == 1)
    }

    @Test func pushRoomPublishesBroadcastRoomWithEnsure() async throws {
        let fixture = try LogicFixture()

        let ensured = await fixture.post(
            "/1/push/room", [("rid", "12"), ("ensure", "T")], json: #""a""#)
        let plain = await fixture.post("/1/push/room", [("rid", "2147483647")], json: "[]")

        #expect(ensured.text == #"{"ret":1}"#)
        #expect(plain.text == #"{"ret":1}"#)
        #expect(
            fixture.publisher.messages == [
                .broadcastRoom(12, body: Array(#""a""#.utf8), ensure: true),
                .broadcastRoom(2_147_483_647, body: Array("[]".utf8), ensure: false),
            ])
        #expect(fixture.logic.metrics.pushes(.room).current == 2)
    }

    @Test(arguments: [
        ("1", true), ("t", true), ("T", true), ("TRUE", true), ("true", true), ("True", true),
        ("0", false), ("f", false), ("F", false), ("FALSE", false), ("false", false),
        ("False", false),
    ])
    func ensureIsReadLikeGoParseBool(text: String, expected: Bool) async throws {
        let fixture = try LogicFixture()

        let response = await fixture.post("/1/push/room", [("rid", "1"), ("ensure", text)])

        #expect(response.status == 200)
        #expect(fixture.publisher.messages.map(\.ensure) == [expected])
    }

    @Test(arguments: ["yes", "", "tRUE", "2", "on"])
    func ensureWithOtherSpellingIsBadRequest(text: String) async throws {
        let fixture = try LogicFixture()

        let response = await fixture.post("/1/push/room", [("rid", "1"), ("ensure", text)])

        #expect(response.status == 400)
        #expect(response.isGoimFailure)
        #expect(response.text.contains("ensure must be true or false"))
        #expect(fixture.publisher.messages.isEmpty)
    }

    @Test func fullQueueIsServiceUnavailable() async throws {
        let fixture = try LogicFixture()
        fixture.publisher.fail(with: .full)

        let response = await fixture.post("/1/push/all", json: "{}")

        #expect(response.status == 503)
        #expect(response.text == #"{"ret":65535,"msg":"dispatch queue is full"}"#)
        #expect(fixture.logic.metrics.publishFailures.current == 1)
        #expect(fixture.logic.metrics.messagesPublished.current == 0)
    }

    @Test func unavailableQueueIsServiceUnavailableWithReason() async throws {
        let fixture = try LogicFixture()
        try await fixture.connect(5, server: 1)
        fixture.publisher.fail(with: .unavailable("broker down"))

        let user = await fixture.post("/1/push", [("uid", "5")], json: "{}")
        let room = await fixture.post("/1/push/room", [("rid", "1")], json: "{}")

        for response in [user, room] {
            #expect(response.status == 503)
            #expect(
                response.text == #"{"ret":65535,"msg":"dispatch queue unavailable: broker down"}"#)
        }
    }

    @Test func routerFailureIsServiceUnavailable() async throws {
        let fixture = try LogicFixture()
        fixture.router.goDown()

        let response = await fixture.post("/1/push", [("uid", "5")], json: "{}")

        #expect(response.status == 503)
        #expect(response.text.contains("router 1 failed (connection refused)"))
        #expect(!response.text.contains("other routers"))
        #expect(fixture.logic.metrics.routerErrors.current == 1)
    }
}
