import Glibc
import IMCore
import IMNet
import Synchronization
import Testing

@Suite struct EventLoopTests {
    /// A started group, shut down (and checked to be) when the body ends.
    private func withGroup(
        loops: Int = 1, _ body: (EventLoopGroup) async throws -> Void
    ) async throws {
        let group = try EventLoopGroup(loopCount: loops)
        group.start()
        defer { group.shutdown() }
        try await body(group)
    }

    @Test func tasksFromOtherThreadsRunOnTheLoop() async throws {
        try await withGroup { group in
            let loop = group.loops[0]
            let ran = Tally()
            let offLoop = Tally()

            await withTaskGroup(of: Void.self) { tasks in
                for _ in 0..<4 {
                    tasks.addTask {
                        for _ in 0..<250 {
                            loop.execute {
                                ran.add()
                                if !loop.isCurrent { offLoop.add() }
                            }
                        }
                    }
                }
            }

            #expect(await NetTestSupport.waitUntil { ran.count == 1_000 })
            #expect(offLoop.count == 0)
            #expect(!loop.isCurrent)
        }
    }

    @Test func submitReturnsTheValueComputedOnTheLoop() async throws {
        try await withGroup(loops: 2) { group in
            let second = group.loops[1]

            let ranOnLoop = await second.submit { second.isCurrent && !group.loops[0].isCurrent }

            #expect(ranOnLoop)
        }
    }

    @Test func taskQueuedFromTheLoopRunsLaterNotInline() async throws {
        try await withGroup { group in
            let loop = group.loops[0]
            let order = Mutex<[String]>([])

            await loop.submit {
                loop.execute { order.withLock { $0.append("inner") } }
                order.withLock { $0.append("outer") }
            }

            #expect(await NetTestSupport.waitUntil { order.withLock { $0.count } == 2 })
            #expect(order.withLock { $0 } == ["outer", "inner"])
        }
    }

    @Test func iterationEndTasksRunInTheSameIterationBeforeFlushes() async throws {
        try await withGroup { group in
            let loop = group.loops[0]
            let (handler, peer) = try await registeredHandler(on: loop, events: .none)
            defer { close(peer) }
            let order = Mutex<[String]>([])
            let flushesSeen = Mutex<[Int]>([])

            await loop.submit {
                loop.scheduleFlush(handler)
                loop.runAtIterationEnd {
                    flushesSeen.withLock { $0.append(handler.flushes.load(ordering: .relaxed)) }
                    loop.runAtIterationEnd { order.withLock { $0.append("deferred again") } }
                    order.withLock { $0.append("deferred") }
                }
                order.withLock { $0.append("task") }
            }
            // `submit` resumes from inside the iteration; one more round trip ends it.
            await loop.submit {}

            #expect(order.withLock { $0 } == ["task", "deferred", "deferred again"])
            #expect(flushesSeen.withLock { $0 } == [0])
            #expect(handler.flushes.load(ordering: .relaxed) == 1)
        }
    }

    @Test func nextGoesRoundTheLoops() throws {
        let group = try EventLoopGroup(loopCount: 3)
        defer { group.shutdown() }

        let indices = (0..<6).map { _ in group.next().index }

        #expect(Set(indices) == [0, 1, 2])
        #expect(indices[0] != indices[1])
    }

    @Test func scheduledFlushRunsOncePerBatch() async throws {
        try await withGroup { group in
            let loop = group.loops[0]
            let (handler, peer) = try await registeredHandler(on: loop, events: .none)
            defer { close(peer) }

            await loop.submit {
                loop.scheduleFlush(handler)
                loop.scheduleFlush(handler)
                loop.scheduleFlush(handler)
            }
            #expect(
                await NetTestSupport.waitUntil { handler.flushes.load(ordering: .relaxed) == 1 })

            await loop.submit { loop.scheduleFlush(handler) }
            #expect(
                await NetTestSupport.waitUntil { handler.flushes.load(ordering: .relaxed) == 2 })
            #expect(handler.flushesOnLoop.load(ordering: .relaxed) == 2)
        }
    }

    @Test func flushIsSkippedAfterDeregistering() async throws {
        try await withGroup { group in
            let loop = group.loops[0]
            let (handler, peer) = try await registeredHandler(on: loop, events: .none)
            defer { close(peer); close(handler.fd) }

            await loop.submit {
                loop.scheduleFlush(handler)
                loop.deregister(handler)
            }
            // A second round trip guarantees the first batch (and its flushes) is over.
            await loop.submit {}
            await loop.submit {}

            #expect(handler.flushes.load(ordering: .relaxed) == 0)
            #expect(await loop.submit { loop.registeredCount } == 0)
        }
    }

    @Test func readableDescriptorIsDispatchedToItsHandler() async throws {
        try await withGroup { group in
            let loop = group.loops[0]
            let (handler, peer) = try await registeredHandler(on: loop, events: .readable)
            defer { close(peer) }

            try NetTestSupport.writeAll(peer, Array("ping".utf8))

            #expect(
                await NetTestSupport.waitUntil {
                    handler.readableEvents.load(ordering: .relaxed) >= 1
                })
        }
    }

    @Test func registeringTheSameHandlerTwiceFails() async throws {
        try await withGroup { group in
            let loop = group.loops[0]
            let (mine, peer) = try NetTestSupport.socketPair()
            defer { close(peer) }
            let handler = RecordingHandler(fd: mine, loop: loop)

            let second = await loop.submit {
                Result {
                    try loop.register(handler, events: .readable)
                    try loop.register(handler, events: .readable)
                }
            }

            #expect(throws: SystemError.self) { try second.get() }
        }
    }

    @Test func timersFireOnTheLoopAfterTheirDelay() async throws {
        try await withGroup { group in
            let loop = group.loops[0]
            let log = FiredLog()
            let firedOnLoop = Tally()
            let timer = NamedTimer("t", log: log) { _ in if loop.isCurrent { firedOnLoop.add() } }
            let start = System.monotonicMillis()

            await loop.submit { loop.timers.schedule(timer, afterMillis: 150) }

            #expect(await NetTestSupport.waitUntil { log.all == ["t"] })
            #expect(System.monotonicMillis() - start >= 150)
            #expect(firedOnLoop.count == 1)
        }
    }

    @Test func shutdownJoinsAndHandsHandlersTheirShutdown() async throws {
        let group = try EventLoopGroup(loopCount: 2)
        group.start()
        let (mine, peer) = try NetTestSupport.socketPair()
        defer { close(peer) }
        let loop = group.loops[1]
        let handler = RecordingHandler(fd: mine, loop: loop)
        try await loop.submit { Result { try loop.register(handler, events: .readable) } }.get()

        group.shutdown()

        #expect(handler.shutdowns.load(ordering: .relaxed) == 1)
        // The handler closed its end, so the peer now reads end of stream.
        var byte: UInt8 = 0
        #expect(read(peer, &byte, 1) == 0)
        group.shutdown()
        #expect(handler.shutdowns.load(ordering: .relaxed) == 1)
    }

    @Test func submitAfterShutdownStillCompletes() async throws {
        let group = try EventLoopGroup(loopCount: 1)
        group.start()
        group.shutdown()

        let value = await group.loops[0].submit { 42 }

        #expect(value == 42)
    }

    @Test func tasksQueuedBeforeStartRunOnceStarted() async throws {
        let group = try EventLoopGroup(loopCount: 1)
        defer { group.shutdown() }
        let ran = Tally()
        group.loops[0].execute { ran.add() }

        group.start()

        #expect(await NetTestSupport.waitUntil { ran.count == 1 })
    }

    /// A handler for one end of a fresh socket pair, registered on `loop` for `events`, and
    /// the other end (the caller closes it).
    private func registeredHandler(
        on loop: EventLoop, events: IOEvents
    ) async throws -> (RecordingHandler, peer: Int32) {
        let (mine, peer) = try NetTestSupport.socketPair()
        let handler = RecordingHandler(fd: mine, loop: loop)
        try await loop.submit { Result { try loop.register(handler, events: events) } }.get()
        return (handler, peer)
    }
}
