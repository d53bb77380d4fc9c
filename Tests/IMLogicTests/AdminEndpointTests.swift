import IMCore
import IMNet
import Testing

@testable import IMLogic

@Suite struct AdminEndpointTests {
    private let names = ["a", "b"]

    /// Users spread over both routers: rooms 1 and 7 and no room, comets 1 and 2.
    private func populated() async throws -> LogicFixture {
        let fixture = try LogicFixture(routerNames: names)
        let onA = fixture.user(on: "a")
        let onB = fixture.user(on: "b")
        try await fixture.connect(onA, server: 1, room: 1)
        try await fixture.connect(onA, server: 2, room: 7)
        try await fixture.connect(onB, server: 1, room: 1)
        try await fixture.connect(onB, server: 1, room: nil)
        return fixture
    }

    @Test func countsRoomsOverAllRoutersSortedById() async throws {
        let fixture = try await populated()

        let response = await fixture.get("/1/count", [("type", "room")])

        #expect(response.status == 200)
        #expect(response.contentType == "application/json")
        #expect(
            response.text == #"{"data":[{"RoomId":1,"Count":2},{"RoomId":7,"Count":1}],"ret":1}"#)
    }

    @Test func countsServersOverAllRoutersSortedById() async throws {
        let fixture = try await populated()

        let response = await fixture.get("/1/count", [("type", "server")])

        #expect(
            response.text == #"{"data":[{"Server":1,"Count":3},{"Server":2,"Count":1}],"ret":1}"#)
    }

    @Test func countsNothingAsEmptyData() async throws {
        let fixture = try LogicFixture()

        let rooms = await fixture.get("/1/count", [("type", "room")])
        let servers = await fixture.get("/1/count", [("type", "server")])

        #expect(rooms.text == #"{"data":[],"ret":1}"#)
        #expect(servers.text == #"{"data":[],"ret":1}"#)
    }

    @Test func countWithoutAKnownTypeIsBadRequest() async throws {
        let fixture = try LogicFixture()

        let missing = await fixture.get("/1/count")
        let other = await fixture.get("/1/count", [("type", "user")])

        #expect(missing.status == 400)
        #expect(
            missing.text == #"{"ret":65535,"msg":"missing query parameter type (room or server)"}"#)
        #expect(other.status == 400)
        #expect(other.text == #"{"ret":65535,"msg":"type must be room or server, got \"user\""}"#)
    }

    @Test func countFailsWhenAnyRouterFails() async throws {
        let fixture = try await populated()
        fixture.routers["a"]!.goDown()

        let response = await fixture.get("/1/count", [("type", "server")])

        #expect(response.status == 503)
        #expect(response.text.contains("router a failed"))
    }

    @Test func serverDeleteRemovesTheServersSessionsOnEveryRouter() async throws {
        let fixture = try await populated()

        let response = await fixture.post("/1/server/del", [("server", "1")])

        #expect(response.status == 200)
        #expect(response.text == #"{"ret":1}"#)
        #expect(fixture.routers["a"]!.table.sessionCount == 1)
        #expect(fixture.routers["b"]!.table.sessionCount == 0)
        let counts = await fixture.get("/1/count", [("type", "server")])
        #expect(counts.text == #"{"data":[{"Server":2,"Count":1}],"ret":1}"#)
    }

    @Test func serverDeleteNamesEveryFailedRouter() async throws {
        let fixture = try await populated()
        fixture.routers["a"]!.goDown()
        fixture.routers["b"]!.goDown()

        let response = await fixture.post("/1/server/del", [("server", "1")])

        #expect(response.status == 503)
        #expect(response.text.contains("router a failed"))
        #expect(response.text.contains("router b failed"))
        #expect(fixture.logic.metrics.routerErrors.current == 2)
    }

    @Test func serverDeleteStillRunsOnHealthyRoutersWhenOneFails() async throws {
        let fixture = try await populated()
        fixture.routers["a"]!.goDown()

        let response = await fixture.post("/1/server/del", [("server", "1")])

        #expect(response.status == 503)
        #expect(!response.text.contains("router b"))
        #expect(fixture.routers["b"]!.table.sessionCount == 0)
    }
}
