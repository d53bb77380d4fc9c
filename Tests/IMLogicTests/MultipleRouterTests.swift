import IMCore
import IMNet
import Testing

@testable import IMLogic

@Suite struct MultipleRouterTests {
    private let names = ["a", "b"]

    @Test func sessionsAreRecordedOnTheUsersRouter() async throws {
        let fixture = try LogicFixture(routerNames: names)
        let onA = fixture.user(on: "a")
        let onB = fixture.user(on: "b")

        try await fixture.connect(onA, server: 1)
        try await fixture.connect(onB, server: 1)

        #expect(fixture.routers["a"]!.table.sessionCount == 1)
        #expect(fixture.routers["b"]!.table.sessionCount == 1)
        #expect(await fixture.routers["a"]!.table.sessions(of: [onA])[onA]?.count == 1)
    }

    @Test func pushsAsksEachRouterOnlyForItsUsersAndMergesTheResults() async throws {
        let fixture = try LogicFixture(routerNames: names)
        let onA = fixture.user(on: "a")
        let onB = fixture.user(on: "b")
        let alsoOnA = fixture.user(on: "a", from: onA + 1)
        let keyA = try await fixture.connect(onA, server: 1)
        let keyB = try await fixture.connect(onB, server: 1)
        let keyAlsoA = try await fixture.connect(alsoOnA, server: 2)

        let response = await fixture.post(
            "/1/pushs", json: #"{"u":[\#(onB),\#(onA),\#(alsoOnA)],"m":[0]}"#)

        #expect(response.text == #"{"ret":1}"#)
        #expect(fixture.routers["a"]!.lookups == [[onA, alsoOnA]])
        #expect(fixture.routers["b"]!.lookups == [[onB]])
        #expect(
            fixture.publisher.messages == [
                .multiple(server: 1, keys: [keyB, keyA], body: Array("[0]".utf8)),
                .multiple(server: 2, keys: [keyAlsoA], body: Array("[0]".utf8)),
            ])
    }

    @Test func failingRouterFailsOnlyItsUsers() async throws {
        let fixture = try LogicFixture(routerNames: names)
        let onA = fixture.user(on: "a")
        let onB = fixture.user(on: "b")
        let keyA = try await fixture.connect(onA, server: 1)
        try await fixture.connect(onB, server: 1)
        fixture.routers["b"]!.goDown()

        let healthy = await fixture.post("/1/push", [("uid", "\(onA)")], json: "1")
        let broken = await fixture.post("/1/push", [("uid", "\(onB)")], json: "2")
        let mixed = await fixture.post("/1/pushs", json: #"{"u":[\#(onA),\#(onB)],"m":3}"#)

        #expect(healthy.status == 200)
        #expect(broken.status == 503)
        #expect(broken.text.contains("router b failed"))
        #expect(mixed.status == 503)
        #expect(mixed.text.contains("router b failed (connection refused)"))
        #expect(mixed.text.contains("users on other routers were pushed"))
        #expect(
            fixture.publisher.messages == [
                .multiple(server: 1, keys: [keyA], body: Array("1".utf8)),
                .multiple(server: 1, keys: [keyA], body: Array("3".utf8)),
            ])
        #expect(fixture.logic.metrics.routerErrors.current == 2)
    }

    @Test func connectFailsWhenTheUsersRouterIsDown() async throws {
        let fixture = try LogicFixture(routerNames: names)
        let onA = fixture.user(on: "a")
        let onB = fixture.user(on: "b")
        fixture.routers["b"]!.goDown()

        try await fixture.connect(onA, server: 1)
        await #expect(throws: ConnectError.unavailable("router b: connection refused")) {
            try await fixture.connect(onB, server: 1)
        }
    }
}
