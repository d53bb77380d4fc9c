import IMCore
import IMNet
import Synchronization
import Testing

@testable import IMLogic

@Suite struct CometRegistryTests {
    func registration(
        _ server: ServerID, port: Int = 7000, online: Int = 0, fresh: Bool = false
    ) -> CometRegistration {
        CometRegistration(
            server: server, rpcAddress: "127.0.0.1:\(port)", online: online, fresh: fresh)
    }

    func member(_ server: ServerID, port: Int = 7000) -> CometMember {
        CometMember(server: server, rpcAddress: "127.0.0.1:\(port)")
    }

    @Test func registeredCometsAreListedOverRPC() async throws {
        let fixture = try LogicFixture()
        try await withRemoteLogic(fixture.logic) { logic, _ in
            let empty = try await logic.comets(after: 0, wait: .seconds(2))
            try await logic.register(registration(2, port: 7002, online: 5, fresh: true))
            try await logic.register(registration(1, port: 7001))

            let list = try await logic.comets(after: empty.generation, wait: .seconds(2))

            #expect(empty.comets.isEmpty)
            #expect(list.comets == [member(1, port: 7001), member(2, port: 7002)])
            #expect(list.generation != empty.generation)
            #expect(fixture.logic.registeredComets.map(\.online) == [0, 5])
            #expect(fixture.logic.metrics.cometRegistrations.current == 2)
        }
    }

    @Test(arguments: [
        CometRegistration(server: 0, rpcAddress: "127.0.0.1:7000", online: 0, fresh: true),
        CometRegistration(server: -5, rpcAddress: "127.0.0.1:7000", online: 0, fresh: false),
        CometRegistration(server: 3, rpcAddress: "garbage", online: 0, fresh: false),
        CometRegistration(server: 3, rpcAddress: "127.0.0.1:0", online: 0, fresh: false),
        CometRegistration(server: 3, rpcAddress: "", online: 0, fresh: false),
        CometRegistration(server: 3, rpcAddress: "127.0.0.1:7000", online: -1, fresh: false),
    ])
    func registrationsJobCouldNotUseAreRefusedOverRPC(_ bad: CometRegistration) async throws {
        let fixture = try LogicFixture()
        let error = try await withRemoteLogic(fixture.logic) { logic, _ in
            await #expect(throws: RPCError.self) { try await logic.register(bad) }
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains("invalid comet registration"))
        #expect(fixture.logic.registeredComets.isEmpty)
        #expect(fixture.logic.metrics.cometRegistrations.current == 0)
    }

    @Test func aLongPollIsAnsweredWithTheChange() async throws {
        let fixture = try LogicFixture()
        try await withRemoteLogic(fixture.logic) { logic, _ in
            let before = try await logic.comets(after: 0, wait: .zero)
            let poll = Task { try await logic.comets(after: before.generation, wait: .seconds(2)) }

            try await logic.register(registration(4))

            let after = try await poll.value
            #expect(after.comets == [member(4)])
            #expect(after.generation != before.generation)
        }
    }

    @Test func aLongPollWithoutChangeReturnsTheSameGenerationAfterTheWait() async throws {
        let fixture = try LogicFixture()
        try await fixture.logic.register(registration(4))
        try await withRemoteLogic(fixture.logic) { logic, _ in
            let current = try await logic.comets(after: 0, wait: .zero)

            let unchanged = try await logic.comets(
                after: current.generation, wait: .milliseconds(200))

            #expect(unchanged == current)
        }
    }

    @Test func onlyAddressChangesAndNewCometsBumpTheGeneration() async throws {
        let logic = try LogicFixture().logic
        try await logic.register(registration(1))
        let first = try await logic.comets(after: 0, wait: .zero).generation

        try await logic.register(registration(1, online: 10))
        let afterRefresh = try await logic.comets(after: 0, wait: .zero)
        let onlineAfterRefresh = logic.registeredComets.first?.online
        try await logic.register(registration(1, port: 7100))
        let afterMove = try await logic.comets(after: 0, wait: .zero)

        #expect(afterRefresh.generation == first)
        #expect(onlineAfterRefresh == 10)
        #expect(afterMove.generation != first)
        #expect(afterMove.comets == [member(1, port: 7100)])
    }

    @Test func aFreshRegistrationRemovesSessionsLeftByAnEarlierProcess() async throws {
        let fixture = try LogicFixture(routerNames: ["a", "b"])
        for router in ["a", "b"] {
            try await fixture.connect(fixture.user(on: router), server: 5)
            try await fixture.connect(fixture.user(on: router, from: 1000), server: 6)
        }

        try await fixture.logic.register(registration(6))
        #expect(fixture.logic.metrics.cometSessionsRemoved.current == 0)
        try await fixture.logic.register(registration(5, fresh: true))

        for router in fixture.routers.values {
            #expect(await router.table.serverCounts() == [6: 1])
        }
        #expect(fixture.logic.metrics.cometSessionsRemoved.current == 2)
        #expect(fixture.logic.registeredComets.map(\.member.server) == [5, 6])
    }

    @Test func aFreshRegistrationFailsWhileARouterCannotRemoveSessions() async throws {
        let fixture = try LogicFixture(routerNames: ["a", "b"])
        fixture.routers["b"]!.goDown()

        await #expect(throws: CometRegistrationError.cleanupFailed(["b"])) {
            try await fixture.logic.register(registration(5, fresh: true))
        }
        #expect(fixture.logic.registeredComets.isEmpty)
        #expect(fixture.logic.metrics.routerErrors.current == 1)
    }

    @Test func anExpiredCometIsDroppedAndItsSessionsRemovedFromEveryRouter() async throws {
        let configuration = LogicConfiguration(cometExpiry: .milliseconds(300))
        let fixture = try LogicFixture(routerNames: ["a", "b"], configuration: configuration)
        let logic = fixture.logic
        for router in ["a", "b"] {
            try await fixture.connect(fixture.user(on: router), server: 7)
            try await fixture.connect(fixture.user(on: router, from: 1000), server: 8)
        }
        try await logic.register(registration(7))
        try await logic.register(registration(8))
        let before = try await logic.comets(after: 0, wait: .zero)

        let expiry = Task { await logic.runCometExpiry(every: .milliseconds(50)) }
        let refresher = Task {
            while !Task.isCancelled {
                try? await logic.register(registration(8))
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        defer {
            expiry.cancel()
            refresher.cancel()
        }
        let after = try await logic.comets(after: before.generation, wait: .seconds(2))
        let dropped = await eventually {
            let comets = try? await logic.comets(after: 0, wait: .zero).comets
            return comets == [member(8)]
        }

        #expect(dropped)
        #expect(after.generation != before.generation)
        #expect(await eventually { logic.metrics.cometSessionsRemoved.current == 2 })
        #expect(logic.metrics.cometExpiries.current == 1)
        for router in fixture.routers.values {
            #expect(await router.table.serverCounts() == [8: 1])
        }
    }

    @Test func aRouterThatFailedTheCleanUpIsRetriedOnTheNextSweep() async throws {
        let configuration = LogicConfiguration(cometExpiry: .milliseconds(300))
        let fixture = try LogicFixture(routerNames: ["a", "b"], configuration: configuration)
        let logic = fixture.logic
        for router in ["a", "b"] {
            try await fixture.connect(fixture.user(on: router), server: 7)
        }
        try await logic.register(registration(7))
        fixture.routers["b"]!.goDown()

        await logic.expireComets(now: .now + .seconds(1))

        #expect(logic.registeredComets.isEmpty)
        #expect(await fixture.routers["a"]!.table.serverCounts() == [:])
        #expect(await fixture.routers["b"]!.table.serverCounts() == [7: 1])
        #expect(logic.metrics.routerErrors.current == 1)

        fixture.routers["b"]!.comeBack()
        await logic.expireComets(now: .now + .seconds(1))

        #expect(await fixture.routers["b"]!.table.serverCounts() == [:])
        #expect(logic.metrics.cometExpiries.current == 1)
        #expect(logic.metrics.cometSessionsRemoved.current == 2)

        await logic.expireComets(now: .now + .seconds(1))
        #expect(logic.metrics.routerErrors.current == 1)
    }

    @Test func aCometThatComesBackCancelsThePendingCleanUp() async throws {
        let configuration = LogicConfiguration(cometExpiry: .milliseconds(300))
        let fixture = try LogicFixture(routerNames: ["a", "b"], configuration: configuration)
        let logic = fixture.logic
        try await logic.register(registration(7))
        fixture.routers["b"]!.goDown()
        await logic.expireComets(now: .now + .seconds(1))

        try await logic.register(registration(7))
        fixture.routers["b"]!.comeBack()
        try await fixture.connect(fixture.user(on: "b"), server: 7)
        await logic.expireComets()

        #expect(await fixture.routers["b"]!.table.serverCounts() == [7: 1])
        #expect(logic.registeredComets.map(\.member) == [member(7)])
    }
}

/// Polls `condition` every 10 ms until it holds or 10 s pass; whether it held.
func eventually(_ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}
