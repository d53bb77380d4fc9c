import Dispatch
import IMCore
import IMTestKit
import Synchronization
import Testing

@testable import IMComet

@Suite struct PushBacklogTests {
    @Test func aPushPastTheLimitWaitsForASlotAndIsCounted() async {
        let waits = Counter("test_backlog_waits", help: "test")
        let backlog = PushBacklog(limit: 2, waits: waits)
        await backlog.admit()
        await backlog.admit()
        let admitted = Atomic<Bool>(false)

        let waiter = Task {
            await backlog.admit()
            admitted.store(true, ordering: .releasing)
        }
        #expect(await eventually { waits.current == 1 })
        let stillWaiting = !admitted.load(ordering: .acquiring)
        backlog.release()
        await waiter.value

        #expect(stillWaiting)
        #expect(backlog.inFlight == 2)
    }

    @Test func waitersTakeFreedSlotsInArrivalOrder() async {
        let waits = Counter("test_backlog_waits", help: "test")
        let backlog = PushBacklog(limit: 1, waits: waits)
        await backlog.admit()
        let order = ArrivalLog()

        var waiters: [Task<Void, Never>] = []
        for index in 0..<3 {
            waiters.append(Task {
                await backlog.admit()
                order.entries.withLock { $0.append(index) }
            })
            // Each waiter queues before the next one starts.
            #expect(await eventually { waits.current == index + 1 })
        }
        for released in 1...3 {
            backlog.release()
            // One at a time: resumed waiters run concurrently and could record out of order.
            #expect(await eventually { order.entries.withLock { $0.count } == released })
        }
        for waiter in waiters { await waiter.value }

        #expect(order.entries.withLock { $0 } == [0, 1, 2])
        #expect(backlog.inFlight == 1)
    }

    @Test func openingLetsEveryWaiterAndLaterPushThrough() async {
        let waits = Counter("test_backlog_waits", help: "test")
        let backlog = PushBacklog(limit: 1, waits: waits)
        await backlog.admit()
        let waiter = Task { await backlog.admit() }
        #expect(await eventually { waits.current == 1 })

        backlog.open()
        await waiter.value
        await backlog.admit()

        #expect(waits.current == 1)
    }
}

private final class ArrivalLog: Sendable {
    let entries = Mutex<[Int]>([])
}

@Suite(.serialized)
struct CometPushBacklogTests {
    /// A loop held busy stands for a long pass over many clients: pushes wait at the limit, and
    /// once the loop runs again every one of them is delivered, in order.
    @Test func pushesWaitWhileALoopIsBehindAndAllArriveInOrder() async throws {
        let configuration = CometConfiguration().with { $0.pushBacklogPerLoop = 2 }
        try await withComet(configuration, loopCount: 1) { harness in
            let client = try await harness.authenticated("5")
            let key = SessionKey(user: 5, seq: 1)
            let release = DispatchSemaphore(value: 0)
            harness.group.loops[0].execute { release.wait() }

            let pusher = Task {
                for index in 0..<6 {
                    try await harness.comet.push(keys: [key], bodies: [Array("m\(index)".utf8)])
                }
            }
            #expect(await eventually { harness.comet.metrics.pushBacklogWaits.current >= 1 })
            release.signal()
            try await pusher.value

            let frames = try await client.readFrames(6)
            #expect(frames.map(\.text) == (0..<6).map { "m\($0)" })
        }
    }
}
