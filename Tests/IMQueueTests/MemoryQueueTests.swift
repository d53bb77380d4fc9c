import IMCore
import IMQueue
import Synchronization
import Testing

@Suite struct MemoryQueueTests {
    @Test func deliversMessagesInPublishOrder() async throws {
        let queue = MemoryQueue()
        let sent = (0..<1000).map { message(index: $0) }
        for message in sent {
            try queue.publish(message)
        }
        queue.close()

        let received = Recorder()
        try await queue.run { received.append($0) }

        #expect(received.messages == sent)
        #expect(queue.published.current == 1000)
        #expect(queue.depth == 0)
    }

    @Test func refusesMessagesWhenFull() throws {
        let queue = MemoryQueue(capacity: 3)
        for index in 0..<3 {
            try queue.publish(message(index: index))
        }

        #expect(throws: QueueError.full) { try queue.publish(message(index: 3)) }
        #expect(queue.rejectedFull.current == 1)
        #expect(queue.published.current == 3)
        #expect(queue.depth == 3)
    }

    @Test func refusesMessagesAfterClose() {
        let queue = MemoryQueue()

        queue.close()

        #expect(throws: QueueError.unavailable("queue closed")) {
            try queue.publish(message(index: 0))
        }
    }

    @Test func wakesAWaitingConsumerWhenAMessageArrives() async throws {
        let queue = MemoryQueue()
        let received = Recorder()
        let consumer = Task { try await queue.run { received.append($0) } }
        #expect(await eventually { queue.hasWaitingConsumer })

        try queue.publish(message(index: 1))

        #expect(await eventually { received.messages == [message(index: 1)] })
        consumer.cancel()
    }

    @Test func publishNowLeavesAWaitingConsumerAsleepUntilOneWakeUp() async throws {
        let queue = MemoryQueue()
        let received = Recorder()
        let consumer = Task { try await queue.run { received.append($0) } }
        #expect(await eventually { queue.hasWaitingConsumer })

        let wakeUpAsked = try (1...3).map { try queue.publishNow(message(index: $0)) }
        let stillAsleep = queue.hasWaitingConsumer && received.messages.isEmpty
        try queue.publish(message(index: 4))

        #expect(wakeUpAsked == [true, false, false])
        #expect(stillAsleep)
        #expect(await eventually { received.messages == (1...4).map { message(index: $0) } })
        queue.wakeConsumer()
        #expect(await eventually { queue.hasWaitingConsumer })
        #expect(try queue.publishNow(message(index: 5)))
        queue.wakeConsumer()
        #expect(await eventually { received.messages.count == 5 })
        #expect(queue.published.current == 5)
        consumer.cancel()
    }

    /// One loop iteration may read more pushes than the queue holds: at half the capacity the
    /// sleeping consumer is woken at once, so it drains the queue before the iteration ends.
    @Test func publishNowWakesTheConsumerAtOnceWhenHalfTheQueueWaits() async throws {
        let queue = MemoryQueue(capacity: 8)
        let received = Recorder()
        let consumer = Task { try await queue.run { received.append($0) } }
        #expect(await eventually { queue.hasWaitingConsumer })

        let wakeUpAsked = try (1...4).map { try queue.publishNow(message(index: $0)) }

        #expect(wakeUpAsked == [true, false, false, false])
        #expect(await eventually { received.messages == (1...4).map { message(index: $0) } })
        consumer.cancel()
    }

    @Test func publishNowWithoutAWaitingConsumerAsksForNoWakeUp() throws {
        let queue = MemoryQueue(capacity: 2)

        let asked = try (0..<2).map { try queue.publishNow(message(index: $0)) }

        #expect(asked == [false, false])
        #expect(throws: QueueError.full) { try queue.publishNow(message(index: 2)) }
        #expect(queue.rejectedFull.current == 1)
        #expect(queue.depth == 2)
    }

    @Test func closeHandsMessagesLeftByPublishNowToTheWaitingConsumer() async throws {
        let queue = MemoryQueue()
        let received = Recorder()
        let consumer = Task { try await queue.run { received.append($0) } }
        #expect(await eventually { queue.hasWaitingConsumer })

        _ = try queue.publishNow(message(index: 1))
        _ = try queue.publishNow(message(index: 2))
        queue.close()

        try await consumer.value
        #expect(received.messages == [message(index: 1), message(index: 2)])
    }

    @Test func closeWakesAWaitingConsumer() async {
        let queue = MemoryQueue()
        let finished = Atomic(false)
        Task {
            try await queue.run { _ in }
            finished.store(true, ordering: .relaxed)
        }
        #expect(await eventually { queue.hasWaitingConsumer })

        queue.close()

        #expect(await eventually { finished.load(ordering: .relaxed) })
    }

    @Test func closeStillDeliversWhatIsQueued() async throws {
        let queue = MemoryQueue()
        try queue.publish(message(index: 1))
        try queue.publish(message(index: 2))
        queue.close()

        let received = Recorder()
        try await queue.run { received.append($0) }

        #expect(received.messages.count == 2)
    }

    @Test func cancellationEndsAWaitingRun() async {
        let queue = MemoryQueue()
        let finished = Atomic(false)
        let consumer = Task {
            try await queue.run { _ in }
            finished.store(true, ordering: .relaxed)
        }
        #expect(await eventually { queue.hasWaitingConsumer })

        consumer.cancel()

        #expect(await eventually { finished.load(ordering: .relaxed) })
        #expect(!queue.hasWaitingConsumer)
    }

    @Test func cancellationStopsABusyRunBetweenMessages() async throws {
        let queue = MemoryQueue()
        for index in 0..<10 {
            try queue.publish(message(index: index))
        }
        let handled = Atomic(0)
        let finished = Atomic(false)
        let consumer = Task {
            try await queue.run { _ in
                handled.add(1, ordering: .relaxed)
                withUnsafeCurrentTask { $0?.cancel() }
            }
            finished.store(true, ordering: .relaxed)
        }

        #expect(await eventually { finished.load(ordering: .relaxed) })
        #expect(handled.load(ordering: .relaxed) == 1)
        #expect(queue.depth == 9)
        consumer.cancel()
    }

    @Test func aSecondConsumerIsRefused() async {
        let queue = MemoryQueue()
        let consumer = Task { try await queue.run { _ in } }
        #expect(await eventually { queue.hasWaitingConsumer })

        await #expect(throws: QueueError.self) { try await queue.run { _ in } }
        consumer.cancel()
    }

    @Test func concurrentPublishersLoseNothingAndKeepTheirOwnOrder() async throws {
        let queue = MemoryQueue()
        let received = Recorder()
        let consumer = Task { try await queue.run { received.append($0) } }

        try await withThrowingTaskGroup(of: Void.self) { group in
            for publisher in 0..<8 {
                group.addTask {
                    for index in 0..<500 {
                        try queue.publish(message(index: index, server: ServerID(publisher)))
                    }
                }
            }
            try await group.waitForAll()
        }
        queue.close()

        #expect(await eventually { received.messages.count == 4000 })
        for publisher in 0..<8 {
            let own = received.messages.filter { $0.server == ServerID(publisher) }
            #expect(own.map(\.body) == (0..<500).map { body(index: $0) })
        }
        consumer.cancel()
    }
}

private func body(index: Int) -> [UInt8] {
    Array("m\(index)".utf8)
}

private func message(index: Int, server: ServerID = 1) -> DispatchMessage {
    .multiple(server: server, keys: [SessionKey(user: 1, seq: 1)], body: body(index: index))
}

/// Collects what the consumer received; read from the test task.
private final class Recorder: Sendable {
    private let received = Mutex<[DispatchMessage]>([])

    func append(_ message: DispatchMessage) {
        received.withLock { $0.append(message) }
    }

    var messages: [DispatchMessage] { received.withLock { $0 } }
}

/// Polls `condition` until it holds or `seconds` pass; never hangs a test.
private func eventually(
    within seconds: Double = 5, _ condition: @Sendable () -> Bool
) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}
