import IMCore
import IMRouter
import IMTestKit
import Testing

/// Random put/delete/deleteServer sequences checked against a plain dictionary of sessions.
@Suite struct RouterModelTests {
    @Test(arguments: [UInt64(1), 2, 3, 42, 2024])
    func randomOperationsMatchASimpleModel(seed: UInt64) async {
        var run = ModelRun(router: Router(shardCount: 4), seed: seed)

        for step in 0..<4000 {
            await run.randomOperation()
            if step % 50 == 0 {
                await run.expectTableMatchesModel()
                // The router never suspends; let other suites' tasks run on the shared pool.
                await Task.yield()
            }
        }
        await run.expectTableMatchesModel()

        await run.removeEverything()
        await run.expectTableIsEmpty()
    }

    @Test func seqsStayUniqueWhenTheRetiredMapIsTiny() async {
        var run = ModelRun(router: Router(shardCount: 2, retiredUsersPerShard: 1), seed: 7)

        for step in 0..<3000 {
            await run.randomOperation()
            if step % 50 == 0 { await Task.yield() }
        }
        await run.expectTableMatchesModel()

        await run.removeEverything()
        await run.expectTableIsEmpty()
    }
}

/// The router under test, the model it must agree with, and every key ever issued.
private struct ModelRun {
    let router: Router
    var random: SeededGenerator
    var model: [SessionKey: SessionRecord] = [:]
    var issuedKeys: Set<SessionKey> = []

    /// A few ordinary ids plus the extremes, so that shard hashing of any `Int64` is covered.
    static let users: [UserID] = Array(0..<24) + [-1, -7, .min, .max, 1 << 40]
    static let servers: [ServerID] = [1, 2, 3, 4]
    static let rooms: [RoomID?] = [nil, 1, 2, 3, 1001]

    init(router: Router, seed: UInt64) {
        self.router = router
        self.random = SeededGenerator(seed: seed)
    }

    mutating func randomOperation() async {
        let roll = random.next(below: 100)
        if roll < 55 {
            await putRandomSession()
        } else if roll < 93 {
            await deleteRandomSession()
        } else if roll < 96 {
            await deleteUnknownSession()
        } else {
            await deleteRandomServer()
        }
    }

    mutating func putRandomSession() async {
        let user = random.pick(Self.users)
        let server = random.pick(Self.servers)
        let room = random.pick(Self.rooms)

        let seq = await router.put(user: user, server: server, room: room)

        let key = SessionKey(user: user, seq: seq)
        #expect(seq > 0)
        #expect(!issuedKeys.contains(key), "key \(key) was issued twice")
        issuedKeys.insert(key)
        model[key] = SessionRecord(seq: seq, server: server, room: room)
    }

    mutating func deleteRandomSession() async {
        // Sorted first: dictionary order changes between processes, and the run must replay.
        let keys = model.keys.sorted { $0.description < $1.description }
        guard let key = keys.randomElement(using: &random) else { return }

        let existed = await router.delete(user: key.user, seq: key.seq)

        #expect(existed)
        model[key] = nil
    }

    mutating func deleteUnknownSession() async {
        let user = random.pick(Self.users)
        let seq = Int32(truncatingIfNeeded: random.next(below: 1000)) + 100_000

        let existed = await router.delete(user: user, seq: seq)

        #expect(existed == (model[SessionKey(user: user, seq: seq)] != nil))
    }

    mutating func deleteRandomServer() async {
        let server = random.pick(Self.servers)
        let onServer = model.filter { $0.value.server == server }

        let removed = await router.deleteServer(server)

        #expect(removed == onServer.count)
        for key in onServer.keys {
            model[key] = nil
        }
    }

    mutating func removeEverything() async {
        for key in model.keys {
            #expect(await router.delete(user: key.user, seq: key.seq))
        }
        model = [:]
    }

    func expectTableMatchesModel() async {
        #expect(await router.roomCounts() == expectedRoomCounts())
        #expect(await router.serverCounts() == expectedServerCounts())
        #expect(router.sessionCount == model.count)
        #expect(router.userCount == Set(model.keys.map(\.user)).count)

        let sessions = await router.sessions(of: Self.users)
        #expect(sessions == expectedSessions())
    }

    func expectTableIsEmpty() async {
        #expect(await router.roomCounts().isEmpty)
        #expect(await router.serverCounts().isEmpty)
        #expect(router.sessionCount == 0)
        #expect(router.userCount == 0)
        #expect(await router.sessions(of: Self.users).isEmpty)
    }

    private func expectedRoomCounts() -> [RoomID: Int] {
        model.values.reduce(into: [:]) { counts, record in
            if let room = record.room { counts[room, default: 0] += 1 }
        }
    }

    private func expectedServerCounts() -> [ServerID: Int] {
        model.values.reduce(into: [:]) { counts, record in counts[record.server, default: 0] += 1 }
    }

    /// Sessions per user in seq order, as the router keeps them in the order they were added.
    private func expectedSessions() -> [UserID: [SessionRecord]] {
        let byUser = Dictionary(grouping: model, by: { $0.key.user })
        return byUser.mapValues { entries in entries.map(\.value).sorted { $0.seq < $1.seq } }
    }
}

extension SeededGenerator {
    fileprivate mutating func next(below bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }

    fileprivate mutating func pick<Element>(_ choices: [Element]) -> Element {
        choices[next(below: choices.count)]
    }
}
