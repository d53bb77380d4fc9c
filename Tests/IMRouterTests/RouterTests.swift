import IMCore
import IMRouter
import Testing

@Suite struct RouterTests {
    @Test func firstSessionGetsSeqOneAndLaterOnesCountUp() async {
        let router = Router()

        let first = await router.put(user: 1001, server: 1, room: 7)
        let second = await router.put(user: 1001, server: 2, room: nil)
        let otherUser = await router.put(user: 1002, server: 1, room: 7)

        #expect([first, second, otherUser] == [1, 2, 1])
        #expect(router.sessionCount == 3)
        #expect(router.userCount == 2)
    }

    @Test func sessionsListsOnlyUsersThatAreOnline() async {
        let router = Router()
        _ = await router.put(user: 5, server: 3, room: 9)

        let sessions = await router.sessions(of: [5, 6])

        #expect(sessions == [5: [SessionRecord(seq: 1, server: 3, room: 9)]])
    }

    @Test func deleteUsesTheRecordedRoomAndServer() async {
        let router = Router()
        let seq = await router.put(user: 1, server: 2, room: 3)

        let existed = await router.delete(user: 1, seq: seq)
        let again = await router.delete(user: 1, seq: seq)

        #expect(existed)
        #expect(!again)
        #expect(await router.roomCounts().isEmpty)
        #expect(await router.serverCounts().isEmpty)
        #expect(router.userCount == 0)
    }

    @Test func countsIgnoreSessionsWithoutARoom() async {
        let router = Router()
        _ = await router.put(user: 1, server: 1, room: nil)
        _ = await router.put(user: 2, server: 1, room: 4)

        #expect(await router.roomCounts() == [4: 1])
        #expect(await router.serverCounts() == [1: 2])
    }

    @Test func deleteServerKeepsTheSameUsersSessionsOnOtherServers() async {
        let router = Router()
        _ = await router.put(user: 1, server: 1, room: 10)
        let kept = await router.put(user: 1, server: 2, room: 10)
        _ = await router.put(user: 2, server: 1, room: nil)

        let removed = await router.deleteServer(1)

        #expect(removed == 2)
        #expect(
            await router.sessions(of: [1, 2]) == [
                1: [SessionRecord(seq: kept, server: 2, room: 10)]
            ])
        #expect(await router.roomCounts() == [10: 1])
        #expect(await router.serverCounts() == [2: 1])
        #expect(router.userCount == 1)
    }

    @Test func deleteServerOfAnUnknownServerRemovesNothing() async {
        let router = Router()
        _ = await router.put(user: 1, server: 1, room: 1)

        #expect(await router.deleteServer(99) == 0)
        #expect(router.sessionCount == 1)
    }

    @Test func aReturningUserContinuesAfterItsLastSeq() async {
        let router = Router()
        let first = await router.put(user: 42, server: 1, room: nil)
        _ = await router.delete(user: 42, seq: first)

        let next = await router.put(user: 42, server: 1, room: nil)

        #expect(next == first + 1)
    }

    @Test func forgottenUsersStartAboveEverySeqTheShardHandedOut() async {
        let router = Router(shardCount: 1, retiredUsersPerShard: 1)
        for _ in 0..<5 {
            let seq = await router.put(user: 1, server: 1, room: nil)
            _ = await router.delete(user: 1, seq: seq)
        }
        // User 2 retiring pushes user 1 out of the one-entry retired map.
        let other = await router.put(user: 2, server: 1, room: nil)
        _ = await router.delete(user: 2, seq: other)

        let returning = await router.put(user: 1, server: 1, room: nil)

        #expect(returning > 5)
    }

    @Test func extremeUserIDsAreStoredLikeAnyOther() async {
        let router = Router()

        let lowest = await router.put(user: .min, server: 1, room: 1)
        let highest = await router.put(user: .max, server: 1, room: 1)
        let negative = await router.put(user: -1, server: 1, room: 1)

        #expect([lowest, highest, negative] == [1, 1, 1])
        #expect(router.userCount == 3)
        #expect(await router.delete(user: .min, seq: 1))
        #expect(await router.roomCounts() == [1: 2])
    }

    @Test func worksThroughTheRouterClientProtocol() async throws {
        let client: any RouterClient = Router()

        let seq = try await client.put(user: 3, server: 1, room: 2)

        #expect(try await client.sessions(of: [3])[3]?.first?.seq == seq)
        #expect(try await client.delete(user: 3, seq: seq))
    }

    @Test func concurrentPutsGiveEachSessionItsOwnSeq() async {
        let router = Router(shardCount: 4)

        let seqs = await withTaskGroup(of: Int32.self) { group in
            for index in 0..<400 {
                group.addTask { await router.put(user: 77, server: ServerID(index % 3), room: 1) }
            }
            return await group.reduce(into: [Int32]()) { $0.append($1) }
        }

        #expect(Set(seqs).count == 400)
        #expect(await router.roomCounts() == [1: 400])
        #expect(await router.serverCounts() == [0: 134, 1: 133, 2: 133])
    }
}
