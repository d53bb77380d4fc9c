import IMCore
import IMNet
import Testing

@testable import IMLogic

@Suite struct PushsEndpointTests {
    @Test func messageIsTheRawTextOfM() async throws {
        let fixture = try LogicFixture()
        let one = try await fixture.connect(1, server: 1)
        let two = try await fixture.connect(2, server: 1)

        let response = await fixture.post("/1/pushs", json: #"{"u":[1,2],"m":{"b": [1, 2]}}"#)

        #expect(response.status == 200)
        #expect(response.text == #"{"ret":1}"#)
        #expect(
            fixture.publisher.messages == [
                .multiple(server: 1, keys: [one, two], body: Array(#"{"b": [1, 2]}"#.utf8))
            ])
        #expect(fixture.logic.metrics.pushes(.pushs).current == 1)
    }

    @Test func keysAreGroupedByServerInUserOrder() async throws {
        let fixture = try LogicFixture()
        let a1 = try await fixture.connect(10, server: 2)
        let b1 = try await fixture.connect(20, server: 1)
        let a2 = try await fixture.connect(10, server: 1)
        let b2 = try await fixture.connect(20, server: 2)
        try await fixture.connect(30, server: 1)

        let json = #"{ "m" : "caf\u00e9 é" , "u" : [ 20 , 10, 20, 40 ] }"#
        let response = await fixture.post("/1/pushs", json: json)

        let body = Array(#""caf\u00e9 é""#.utf8)
        #expect(response.text == #"{"ret":1}"#)
        #expect(
            fixture.publisher.messages == [
                .multiple(server: 1, keys: [b1, a2], body: body),
                .multiple(server: 2, keys: [b2, a1], body: body),
            ])
    }

    @Test func emptyUserListPublishesNothing() async throws {
        let fixture = try LogicFixture()

        let response = await fixture.post("/1/pushs", json: #"{"u":[],"m":1}"#)

        #expect(response.text == #"{"ret":1}"#)
        #expect(fixture.publisher.messages.isEmpty)
    }

    @Test func malformedBodyIsBadRequest() async throws {
        let fixture = try LogicFixture()

        let response = await fixture.post("/1/pushs", json: #"{"u":5,"m":"x"}"#)

        #expect(response.status == 400)
        #expect(response.text == #"{"ret":65535,"msg":"\"u\" must be an array of user ids"}"#)
        #expect(fixture.logic.metrics.rejectedRequests.current == 1)
        #expect(fixture.logic.metrics.pushes(.pushs).current == 0)
    }

    @Test func tooManyUsersIsContentTooLarge() async throws {
        let fixture = try LogicFixture(configuration: .init().with(maxUsersPerPush: 3))

        let ok = await fixture.post("/1/pushs", json: #"{"u":[1,2,3],"m":1}"#)
        let tooMany = await fixture.post("/1/pushs", json: #"{"u":[1,2,3,4],"m":1}"#)

        #expect(ok.status == 200)
        #expect(tooMany.status == 413)
        #expect(tooMany.text.contains("more than 3 users"))
    }
}
