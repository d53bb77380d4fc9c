import IMCore
import Synchronization
import Testing

@testable import IMJob

/// A comet registry like logic's: a list with a generation, answered by long poll.
final class FakeRegistry: CometRegistry {
    private let state = Mutex<(comets: [CometMember], failing: Bool, polls: Int)>(([], false, 0))
    private let signal = ChangeSignal(version: 1)

    var polls: Int { state.withLock { $0.polls } }

    func setComets(_ comets: [CometMember]) {
        state.withLock { $0.comets = comets }
        signal.set(signal.version + 1)
    }

    func setFailing(_ failing: Bool) { state.withLock { $0.failing = failing } }

    func register(_ registration: CometRegistration) async throws {}

    func comets(after generation: UInt64, wait: Duration) async throws -> CometList {
        let failing = state.withLock { state in
            state.polls += 1
            return state.failing
        }
        if failing { throw CometFailure() }
        let version = await signal.wait(whileVersionIs: generation, timeout: wait)
        return CometList(generation: version, comets: state.withLock { $0.comets })
    }
}

/// Opens a `FakeComet` per member and records which members were opened and closed.
final class RecordingConnector: Sendable {
    private let log = Mutex<(opened: [CometMember], closed: [CometMember])>(([], []))

    var opened: [CometMember] { log.withLock { $0.opened } }
    var closed: [CometMember] { log.withLock { $0.closed } }

    var connector: FollowingCometDirectory.Connector {
        { member in
            self.log.withLock { $0.opened.append(member) }
            let close: @Sendable () -> Void = { self.log.withLock { $0.closed.append(member) } }
            return (FakeComet(serverID: member.server), close)
        }
    }
}

@Suite struct FollowingCometDirectoryTests {
    let registry = FakeRegistry()
    let connector = RecordingConnector()

    func member(_ server: ServerID, port: Int = 7000) -> CometMember {
        CometMember(server: server, rpcAddress: "127.0.0.1:\(port + Int(server))")
    }

    func following(_ body: (FollowingCometDirectory) async throws -> Void) async rethrows {
        let directory = FollowingCometDirectory(registry: registry, connect: connector.connector)
        let task = Task { await directory.run() }
        defer {
            task.cancel()
            directory.close()
        }
        try await body(directory)
    }

    func servers(_ directory: FollowingCometDirectory) -> [ServerID] {
        directory.allComets().map(\.serverID)
    }

    @Test func theFirstListIsLoadedAndEachCometGetsAClient() async throws {
        registry.setComets([member(2), member(1)])

        await following { directory in
            #expect(await directory.waitUntilLoaded(timeout: .seconds(5)))
            #expect(servers(directory) == [1, 2])
            #expect(directory.comet(2)?.serverID == 2)
            #expect(directory.comet(3) == nil)
            #expect(Set(connector.opened) == [member(1), member(2)])
        }
    }

    @Test func aCometThatRegistersLaterIsAddedWithoutReopeningTheOthers() async throws {
        registry.setComets([member(1)])

        await following { directory in
            #expect(await directory.waitUntilLoaded(timeout: .seconds(5)))
            registry.setComets([member(1), member(2)])

            #expect(await eventually { servers(directory) == [1, 2] })
            #expect(connector.opened == [member(1), member(2)])
            #expect(connector.closed.isEmpty)
        }
    }

    @Test func aCometThatLeftIsClosedAndForgotten() async throws {
        registry.setComets([member(1), member(2)])

        await following { directory in
            #expect(await directory.waitUntilLoaded(timeout: .seconds(5)))
            registry.setComets([member(2)])

            #expect(await eventually { servers(directory) == [2] })
            #expect(connector.closed == [member(1)])
            #expect(directory.comet(1) == nil)
        }
    }

    @Test func aCometThatMovedGetsANewClientAndTheOldOneIsClosed() async throws {
        registry.setComets([member(1)])

        await following { directory in
            #expect(await directory.waitUntilLoaded(timeout: .seconds(5)))
            let moved = member(1, port: 8000)
            registry.setComets([moved])

            #expect(await eventually { directory.members == [moved] })
            #expect(connector.opened == [member(1), moved])
            #expect(connector.closed == [member(1)])
        }
    }

    @Test func failedPollsAreRetriedUntilTheRegistryAnswers() async throws {
        registry.setFailing(true)
        registry.setComets([member(1)])

        await following { directory in
            #expect(await directory.waitUntilLoaded(timeout: .milliseconds(200)) == false)
            #expect(await eventually { registry.polls >= 2 })
            #expect(directory.allComets().isEmpty)

            registry.setFailing(false)
            #expect(await directory.waitUntilLoaded(timeout: .seconds(5)))
            #expect(servers(directory) == [1])
        }
    }

    @Test func closeClosesEveryClient() async throws {
        registry.setComets([member(1), member(2)])
        let directory = FollowingCometDirectory(registry: registry, connect: connector.connector)
        let task = Task { await directory.run() }
        #expect(await directory.waitUntilLoaded(timeout: .seconds(5)))
        task.cancel()
        await task.value

        directory.close()

        #expect(Set(connector.closed) == [member(1), member(2)])
        #expect(directory.allComets().isEmpty)
    }
}
