import IMCore
import IMNet
import IMTestKit
import Testing

@testable import IMComet

@Suite(.serialized)
struct CometLifecycleTests {
    @Test func closingClientsDisconnectsEachSessionAndEmptiesTheLoops() async throws {
        try await withComet { harness in
            var clients: [TestClient] = []
            for user in 1...6 {
                clients.append(try await harness.authenticated("\(user)"))
            }
            #expect(await eventually { harness.comet.connectionCount == 6 })

            clients.forEach { $0.close() }

            let expected = Set((1...6).map { SessionKey(user: UserID($0), seq: 1) })
            #expect(await eventually { Set(harness.logic.disconnects) == expected })
            #expect(harness.logic.disconnects.count == 6)
            #expect(harness.comet.connectionCount == 0)
            let snapshots = await harness.comet.loopSnapshots()
            let empty = CometLoopSnapshot(keys: [], openConnections: 0, roomMembers: [:])
            #expect(snapshots == [empty, empty])
        }
    }

    @Test func shutdownClosesEveryConnectionAndTellsLogic() async throws {
        let logic = FakeLogic()
        let harness = try CometHarness.start(CometConfiguration(), logic: logic, loopCount: 2)
        var clients: [TestClient] = []
        for user in 1...3 {
            clients.append(try await harness.authenticated("\(user)"))
        }
        clients.append(try await harness.connect())
        #expect(await eventually { harness.comet.metrics.acceptedTotal == 4 })

        await harness.comet.shutdown()

        for client in clients {
            #expect(await client.isClosedByPeer(within: 5))
        }
        #expect(Set(logic.disconnects) == Set((1...3).map { SessionKey(user: UserID($0), seq: 1) }))
        #expect(harness.comet.connectionCount == 0)
        #expect(harness.comet.metrics.connectionsClosed.current == 4)
        await harness.stop()
    }

    @Test func connectionsAfterShutdownAreNotServed() async throws {
        let harness = try CometHarness.start(CometConfiguration(), logic: FakeLogic(), loopCount: 2)
        await harness.comet.shutdown()

        // The listening sockets are closed on their loops; a late connect is refused or closed.
        let refused = await eventually {
            guard let client = try? await harness.connect() else { return true }
            return await client.isClosedByPeer(within: 1)
        }
        #expect(refused)
        await harness.stop()
    }

    @Test func groupShutdownWithoutCometShutdownStillTellsLogic() async throws {
        let logic = FakeLogic()
        let harness = try CometHarness.start(CometConfiguration(), logic: logic, loopCount: 2)
        let client = try await harness.authenticated("12")

        await offPoolSafely { [group = harness.group] in group.shutdown() }

        #expect(await client.isClosedByPeer())
        #expect(await eventually { logic.disconnects == [SessionKey(user: 12, seq: 1)] })
        await harness.comet.shutdown()
    }
}
