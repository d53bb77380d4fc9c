import IMCore
import IMQueue
import Testing

/// Publisher and consumer lifecycles with no broker at all: nothing may crash or hang.
@Suite(.timeLimit(.minutes(1)))
struct KafkaClientTests {
    /// Nothing listens on port 1 of the loopback, so every connection attempt is refused.
    static let deadURL = KafkaURL(
        brokers: ["127.0.0.1:1"], topic: "pushes",
        properties: ["reconnect.backoff.max.ms": "200", "session.timeout.ms": "6000"])

    @Test func publishFailsWithinItsBoundWhenNoBrokerAnswers() async throws {
        let publisher = try KafkaPublisher(url: Self.deadURL, deliveryTimeout: .seconds(1))
        defer { publisher.close(flushTimeout: .zero) }

        await #expect(throws: QueueError.self) {
            try await publisher.publish(.broadcast(body: Array("lost".utf8)))
        }
        #expect(publisher.failed.current == 1)
        #expect(publisher.acknowledged.current == 0)
    }

    @Test func takesTheDeliveryTimeoutFromTheURL() throws {
        var url = Self.deadURL
        url.properties["message.timeout.ms"] = "1500"

        let publisher = try KafkaPublisher(url: url)
        defer { publisher.close(flushTimeout: .zero) }

        #expect(publisher.deliveryTimeout == .milliseconds(1500))
    }

    @Test func refusesToPublishAfterClose() async throws {
        let publisher = try KafkaPublisher(url: Self.deadURL)

        publisher.close(flushTimeout: .zero)
        publisher.close(flushTimeout: .zero)

        await #expect(throws: QueueError.unavailable("Kafka publisher is closed")) {
            try await publisher.publish(.broadcast(body: [1]))
        }
    }

    @Test func closeFailsMessagesStillInFlight() async throws {
        let publisher = try KafkaPublisher(url: Self.deadURL, deliveryTimeout: .seconds(30))
        let publishing = Task { try await publisher.publish(.broadcast(body: [1])) }
        // Whether the message reached librdkafka before close or not, it must fail.
        try await Task.sleep(for: .milliseconds(100))

        publisher.close(flushTimeout: .milliseconds(100))

        await #expect(throws: QueueError.self) { try await publishing.value }
        #expect(publisher.failed.current == 1)
    }

    @Test func consumerAllowsOneRunAtATime() async throws {
        let consumer = try KafkaConsumer(url: Self.deadURL)
        defer { consumer.close(leaveTimeout: .seconds(1)) }
        let first = Task { try await consumer.run { _ in } }
        #expect(await waitUntil(.seconds(5)) { consumer.hasConsumer })

        await #expect(throws: QueueError.unavailable("queue already has a consumer")) {
            try await consumer.run { _ in }
        }

        first.cancel()
        try await first.value
        #expect(!consumer.hasConsumer)
    }

    @Test func closeEndsARunningConsumerAndLaterRunsFail() async throws {
        let consumer = try KafkaConsumer(url: Self.deadURL)
        let running = Task { try await consumer.run { _ in } }
        #expect(await waitUntil(.seconds(5)) { consumer.hasConsumer })

        consumer.close(leaveTimeout: .seconds(1))
        try await running.value

        await #expect(throws: QueueError.unavailable("Kafka consumer is closed")) {
            try await consumer.run { _ in }
        }
    }
}
