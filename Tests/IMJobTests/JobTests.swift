import IMCore
import IMQueue
import Synchronization
import Testing

@testable import IMJob

@Suite struct JobDispatchTests {
    @Test func multipleReachesOnlyTheNamedComet() async throws {
        let harness = JobHarness(comets: [FakeComet(serverID: 1), FakeComet(serverID: 2)])
        let keys = [SessionKey(user: 7, seq: 1), SessionKey(user: 8, seq: 3)]

        try harness.queue.publish(.multiple(server: 2, keys: keys, body: body(1)))

        #expect(await eventually { harness.comets[1].calls.count == 1 })
        #expect(harness.comets[1].calls == [.push(keys: keys, bodies: [body(1)])])
        #expect(harness.comets[0].calls.isEmpty)
        #expect(harness.job.metrics.consumedMultiple.current == 1)
        await harness.stop()
    }

    @Test func broadcastReachesEveryComet() async throws {
        let harness = JobHarness(comets: [FakeComet(serverID: 1), FakeComet(serverID: 2)])

        try harness.queue.publish(.broadcast(body: body(1)))

        for comet in harness.comets {
            #expect(await eventually { comet.calls == [.broadcast(bodies: [body(1)])] })
        }
        #expect(harness.job.metrics.consumedBroadcast.current == 1)
        await harness.stop()
    }

    @Test func roomMessageReachesEveryComet() async throws {
        let harness = JobHarness(comets: [FakeComet(serverID: 1), FakeComet(serverID: 2)])

        try harness.queue.publish(.broadcastRoom(5, body: body(1), ensure: false))

        for comet in harness.comets {
            #expect(await eventually { comet.calls == [.broadcastRoom(5, bodies: [body(1)])] })
        }
        #expect(harness.job.metrics.consumedBroadcastRoom.current == 1)
        #expect(harness.job.metrics.roomBatches.current == 1)
        await harness.stop()
    }

    @Test func pushForAnUnknownServerIsCountedAsDropped() async throws {
        let harness = JobHarness(comets: [FakeComet(serverID: 1)])

        try harness.queue.publish(.multiple(server: 9, keys: [], body: body(1)))
        try harness.queue.publish(.broadcast(body: body(2)))

        #expect(await eventually { harness.comets[0].calls.count == 1 })
        #expect(harness.job.metrics.unknownServerDropped.current == 1)
        #expect(harness.comets[0].calls == [.broadcast(bodies: [body(2)])])
        await harness.stop()
    }

    @Test func failingCometCallsAreCountedAndTheJobCarriesOn() async throws {
        let harness = JobHarness(comets: [
            FakeComet(serverID: 1, failing: true), FakeComet(serverID: 2),
        ])

        try harness.queue.publish(.multiple(server: 1, keys: [], body: body(1)))
        try harness.queue.publish(.broadcast(body: body(2)))
        try harness.queue.publish(.broadcastRoom(3, body: body(3), ensure: false))

        #expect(await eventually { harness.job.metrics.cometErrors.current == 3 })
        #expect(await eventually { harness.comets[1].calls.count == 2 })
        await harness.stop()
    }

    @Test func closingTheQueueFlushesWaitingRoomMessagesAndEndsRun() async throws {
        let harness = JobHarness(configuration: JobConfiguration(roomBatchWindow: .seconds(30)))
        let comet = harness.comets[0]
        try harness.queue.publish(.broadcastRoom(1, body: body(0), ensure: false))
        #expect(await eventually { comet.roomBatches(1).count == 1 })
        for index in 1...3 {
            try harness.queue.publish(.broadcastRoom(1, body: body(index), ensure: false))
        }

        harness.queue.close()

        #expect(await eventually { harness.hasFinished })
        #expect(comet.roomBatches(1) == [[body(0)], [body(1), body(2), body(3)]])
        #expect(harness.job.activeRoomCount == 0)
    }

    @Test func aJobRunsOnlyOnce() async throws {
        let harness = JobHarness()
        let refused = FinishFlag()

        let second = Task {
            do {
                try await harness.job.run()
            } catch JobError.alreadyStarted {
                refused.set()
            } catch {}
        }

        // Whichever call came second was refused: this one, or the harness's own.
        #expect(await eventually { refused.isSet || harness.hasFinished })
        second.cancel()
        await harness.stop()
    }
}

@Suite struct JobRoomBatchingTests {
    @Test func aLoneMessageIsSentWithoutWaitingForTheWindow() async throws {
        let harness = JobHarness(configuration: JobConfiguration(roomBatchWindow: .seconds(30)))

        try harness.queue.publish(.broadcastRoom(1, body: body(1), ensure: false))

        // Well before the window ends; the margin is for a busy machine running other suites.
        #expect(await eventually(within: 2) { harness.comets[0].roomBatches(1) == [[body(1)]] })
        await harness.stop()
    }

    @Test func aBurstArrivesInOrderInBatchesNoLargerThanTheBatchSize() async throws {
        let configuration = JobConfiguration(roomBatchSize: 40, roomBatchWindow: .milliseconds(200))
        let harness = JobHarness(configuration: configuration)

        for index in 0..<100 {
            try harness.queue.publish(.broadcastRoom(1, body: body(index), ensure: true))
        }

        let comet = harness.comets[0]
        #expect(await eventually { comet.roomBatches(1).joined().count == 100 })
        #expect(Array(comet.roomBatches(1).joined()) == (0..<100).map(body))
        #expect(comet.roomBatches(1).allSatisfy { $0.count <= 40 })
        #expect(comet.roomBatches(1).count < 100)
        await harness.stop()
    }

    @Test func theEndOfTheWindowFlushesWhatArrivedDuringIt() async throws {
        let harness = JobHarness(configuration: JobConfiguration(roomBatchWindow: .seconds(1)))
        let comet = harness.comets[0]
        try harness.queue.publish(.broadcastRoom(1, body: body(0), ensure: false))
        #expect(await eventually { comet.roomBatches(1).count == 1 })

        for index in 1...5 {
            try harness.queue.publish(.broadcastRoom(1, body: body(index), ensure: false))
        }

        #expect(await eventually { comet.roomBatches(1).count == 2 })
        #expect(comet.roomBatches(1) == [[body(0)], (1...5).map(body)])
        await harness.stop()
    }

    @Test(arguments: [
        JobConfiguration(roomBatchSize: 1, roomBatchWindow: .seconds(1)),
        JobConfiguration(roomBatchSize: 40, roomBatchWindow: .zero),
    ])
    func batchingOffSendsEveryMessageAlone(configuration: JobConfiguration) async throws {
        let harness = JobHarness(configuration: configuration)

        for index in 0..<20 {
            try harness.queue.publish(.broadcastRoom(1, body: body(index), ensure: true))
        }

        let comet = harness.comets[0]
        #expect(await eventually { comet.roomBatches(1).count == 20 })
        #expect(comet.roomBatches(1) == (0..<20).map { [body($0)] })
        await harness.stop()
    }

    @Test func anIdleRoomIsFreed() async throws {
        let harness = JobHarness(
            configuration: JobConfiguration(roomBatchWindow: .milliseconds(50)))

        for room in 1...10 {
            try harness.queue.publish(.broadcastRoom(RoomID(room), body: body(room), ensure: false))
        }

        #expect(await eventually { harness.comets[0].calls.count == 10 })
        #expect(await eventually { harness.job.activeRoomCount == 0 })
        await harness.stop()
    }

    @Test func roomsKeepTheirOwnOrderWhenInterleaved() async throws {
        let configuration = JobConfiguration(roomBatchSize: 8, roomBatchWindow: .milliseconds(20))
        let harness = JobHarness(configuration: configuration)

        for index in 0..<50 {
            for room in 1...6 {
                try harness.queue.publish(
                    .broadcastRoom(RoomID(room), body: body(index), ensure: true))
            }
        }

        let comet = harness.comets[0]
        for room in 1...6 {
            #expect(await eventually { comet.roomBatches(RoomID(room)).joined().count == 50 })
            #expect(Array(comet.roomBatches(RoomID(room)).joined()) == (0..<50).map(body))
        }
        await harness.stop()
    }

    @Test func aRoomStuckOnASlowCometDoesNotHoldBackOtherRooms() async throws {
        let gate = Gate()
        let comet = FakeComet(serverID: 1, gate: gate, gatedRoom: 1)
        let harness = JobHarness(comets: [comet])

        try harness.queue.publish(.broadcastRoom(1, body: body(1), ensure: false))
        #expect(await eventually { gate.waiting == 1 })
        try harness.queue.publish(.broadcastRoom(2, body: body(2), ensure: false))

        #expect(await eventually { comet.roomBatches(2) == [[body(2)]] })
        gate.open()
        #expect(await eventually { comet.roomBatches(1) == [[body(1)]] })
        await harness.stop()
    }

    @Test func aSlowCometDoesNotHoldBackAnotherCometsCopyOfARoomBatch() async throws {
        let gate = Gate()
        let slow = FakeComet(serverID: 1, gate: gate)
        let harness = JobHarness(comets: [slow, FakeComet(serverID: 2)])

        try harness.queue.publish(.broadcastRoom(4, body: body(1), ensure: false))

        #expect(await eventually { harness.comets[1].roomBatches(4) == [[body(1)]] })
        #expect(gate.waiting == 1)
        #expect(slow.roomBatches(4).isEmpty)
        gate.open()
        #expect(await eventually { slow.roomBatches(4) == [[body(1)]] })
        await harness.stop()
    }

    @Test func overflowWithoutEnsureIsDroppedAndCounted() async throws {
        let gate = Gate()
        let configuration = JobConfiguration(
            roomBatchSize: 4, roomBatchWindow: .milliseconds(50), roomQueueLimit: 8)
        let harness = JobHarness(
            comets: [FakeComet(serverID: 1, gate: gate)], configuration: configuration)

        for index in 0..<30 {
            try harness.queue.publish(.broadcastRoom(1, body: body(index), ensure: false))
        }
        #expect(await eventually { harness.job.metrics.consumedBroadcastRoom.current == 30 })
        gate.open()

        let metrics = harness.job.metrics
        let comet = harness.comets[0]
        #expect(metrics.roomDropped.current > 0)
        #expect(
            await eventually {
                comet.roomBatches(1).joined().count + metrics.roomDropped.current == 30
            })
        let delivered = comet.roomBatches(1).joined().compactMap(index(of:))
        #expect(delivered.first == 0)
        #expect(delivered == delivered.sorted())
        await harness.stop()
    }

    @Test func ensureMessagesWaitForSpaceInsteadOfBeingDropped() async throws {
        let gate = Gate()
        let configuration = JobConfiguration(
            roomBatchSize: 4, roomBatchWindow: .milliseconds(50), roomQueueLimit: 8)
        let harness = JobHarness(
            comets: [FakeComet(serverID: 1, gate: gate)], configuration: configuration)

        for index in 0..<50 {
            try harness.queue.publish(.broadcastRoom(1, body: body(index), ensure: true))
        }
        #expect(await eventually { gate.waiting == 1 && harness.queue.depth > 0 })
        gate.open()

        let comet = harness.comets[0]
        #expect(await eventually { comet.roomBatches(1).joined().count == 50 })
        #expect(Array(comet.roomBatches(1).joined()) == (0..<50).map(body))
        #expect(harness.job.metrics.roomDropped.current == 0)
        await harness.stop()
    }
}

@Suite struct LogRateLimiterTests {
    @Test func letsOneEventThroughPerIntervalAndCountsTheRest() {
        var limiter = LogRateLimiter()
        let start = ContinuousClock.now

        let first = limiter.admit(at: start, interval: .seconds(10))
        let held = (1...3).map { limiter.admit(at: start + .seconds($0), interval: .seconds(10)) }
        let later = limiter.admit(at: start + .seconds(11), interval: .seconds(10))

        #expect(first == 0)
        #expect(held == [nil, nil, nil])
        #expect(later == 3)
    }
}

/// A job consuming a memory queue, running until `stop()`.
private struct JobHarness {
    let queue = MemoryQueue()
    let comets: [FakeComet]
    let job: Job
    private let finished = FinishFlag()
    private let runner: Task<Void, Never>

    init(
        comets: [FakeComet] = [FakeComet(serverID: 1)], configuration: JobConfiguration = .init()
    ) {
        self.comets = comets
        let job = Job(
            consumer: queue, comets: FakeDirectory(comets: comets), configuration: configuration)
        self.job = job
        let finished = finished
        runner = Task {
            try? await job.run()
            finished.set()
        }
    }

    var hasFinished: Bool { finished.isSet }

    func stop() async {
        runner.cancel()
        #expect(await eventually { finished.isSet }, "job.run did not end after cancellation")
    }
}

private final class FinishFlag: Sendable {
    private let flag = Atomic(false)

    func set() { flag.store(true, ordering: .relaxed) }

    var isSet: Bool { flag.load(ordering: .relaxed) }
}
