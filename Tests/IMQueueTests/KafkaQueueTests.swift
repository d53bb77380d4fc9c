import Foundation
import IMCore
import IMQueue
import IMTestKit
import Testing

/// Publisher and consumer against a real Kafka-protocol broker (tansu, one per test).
@Suite(.serialized, KafkaTestSetup.enabled, .timeLimit(.minutes(2)))
struct KafkaQueueTests {
    @Test func roundTripsEveryKindAsGoimJSON() async throws {
        let broker = try KafkaTestSetup.startBroker()
        defer { broker.stop() }
        let topic = KafkaBroker.uniqueTopic()
        try broker.createTopic(topic, partitions: 1)
        let url = KafkaTestSetup.url(broker, topic: topic)
        let sent = Self.oneOfEachKind

        let publisher = try KafkaPublisher(url: url)
        for message in sent { try await publisher.publish(message) }
        publisher.close()

        let received = try await receive(sent.count, from: try KafkaConsumer(url: url))
        let raw = try RawKafka.read(sent.count, from: broker, topic: topic, partitions: 1)
        #expect(received == sent)
        #expect(raw.map(\.value) == sent.map { $0.jsonBytes() })
        #expect(raw.map(\.key) == sent.map(\.partitionKey))
        #expect(publisher.acknowledged.current == sent.count)
    }

    @Test func keepsOrderPerRoomAcrossThreePartitions() async throws {
        let broker = try KafkaTestSetup.startBroker()
        defer { broker.stop() }
        let topic = KafkaBroker.uniqueTopic()
        try broker.createTopic(topic, partitions: 3)
        let url = KafkaTestSetup.url(broker, topic: topic)
        let sent = (0..<240).map { index in
            DispatchMessage.broadcastRoom(
                RoomID(index % 8 + 1), body: Array("\(index)".utf8), ensure: false)
        }

        let publisher = try KafkaPublisher(url: url)
        for message in sent { try await publisher.publish(message) }
        publisher.close()

        let received = try await receive(sent.count, from: try KafkaConsumer(url: url))
        let raw = try RawKafka.read(sent.count, from: broker, topic: topic, partitions: 3)
        #expect(received.count == sent.count)
        for room in RoomID(1)...8 {
            #expect(received.filter { $0.room == room } == sent.filter { $0.room == room })
            #expect(Set(raw.filter { $0.key == Array("\(room)".utf8) }.map(\.partition)).count == 1)
        }
        #expect(Set(raw.map(\.partition)).count > 1)
    }

    @Test func decodesGoimJSONFromAnotherProducer() async throws {
        let broker = try KafkaTestSetup.startBroker()
        defer { broker.stop() }
        let topic = KafkaBroker.uniqueTopic()
        try broker.createTopic(topic, partitions: 3)
        let goimValue =
            #"{"op":"broadcast_room","roomid":1,"msg":"eyJ0ZXN0IjoxfQ==","ensure":true}"#

        try RawKafka.produce(
            to: broker, topic: topic, key: [0, 0, 0, 1], value: Array(goimValue.utf8))
        let consumer = try KafkaConsumer(url: KafkaTestSetup.url(broker, topic: topic))
        let received = try await receive(1, from: consumer)

        let expected = DispatchMessage.broadcastRoom(
            1, body: Array(#"{"test":1}"#.utf8), ensure: true)
        #expect(received == [expected])
        #expect(expected.jsonBytes() == Array(goimValue.utf8))
        #expect(consumer.undecodable.current == 0)
    }

    @Test func skipsUndecodableValuesAndDoesNotRedeliverCommittedOnes() async throws {
        let broker = try KafkaTestSetup.startBroker()
        defer { broker.stop() }
        let topic = KafkaBroker.uniqueTopic()
        try broker.createTopic(topic, partitions: 1)
        let url = KafkaTestSetup.url(broker, topic: topic)
        let publisher = try KafkaPublisher(url: url)
        defer { publisher.close() }

        try RawKafka.produce(to: broker, topic: topic, key: nil, value: Array("not json".utf8))
        try await publisher.publish(.broadcast(body: Array("first".utf8)))
        let first = try KafkaConsumer(url: url)
        let firstRun = try await receive(1, from: first)

        try await publisher.publish(.broadcast(body: Array("second".utf8)))
        let secondRun = try await receive(1, from: try KafkaConsumer(url: url))

        #expect(firstRun == [.broadcast(body: Array("first".utf8))])
        #expect(first.undecodable.current == 1)
        #expect(secondRun == [.broadcast(body: Array("second".utf8))])
    }

    @Test func redeliversAMessageWhoseHandlerDidNotFinish() async throws {
        let broker = try KafkaTestSetup.startBroker()
        defer { broker.stop() }
        let topic = KafkaBroker.uniqueTopic()
        try broker.createTopic(topic, partitions: 1)
        let url = KafkaTestSetup.url(broker, topic: topic)
        let message = DispatchMessage.multiple(
            server: 7, keys: [SessionKey(user: 42, seq: 1)], body: Array("hello".utf8))
        let publisher = try KafkaPublisher(url: url)
        try await publisher.publish(message)
        publisher.close()

        let interrupted = try KafkaConsumer(url: url)
        let started = MessageLog()
        let running = Task {
            try await interrupted.run { message in
                started.append(message)
                try? await Task.sleep(for: .seconds(60))
            }
        }
        #expect(await waitUntil { started.count == 1 })
        running.cancel()
        try await running.value
        interrupted.close()

        let again = try await receive(1, from: try KafkaConsumer(url: url))
        #expect(started.messages == [message])
        #expect(again == [message])
    }

    @Test func publishFailsWithinItsBoundWhileTheBrokerIsDownAndRecovers() async throws {
        let broker = try KafkaTestSetup.startBroker()
        defer { broker.stop() }
        let topic = KafkaBroker.uniqueTopic()
        try broker.createTopic(topic, partitions: 1)
        let url = KafkaTestSetup.url(broker, topic: topic)
        let publisher = try KafkaPublisher(url: url, deliveryTimeout: .seconds(2))
        defer { publisher.close(flushTimeout: .seconds(1)) }
        try await publisher.publish(.broadcast(body: [1]))

        broker.stop()
        let start = ContinuousClock.now
        await #expect(throws: QueueError.self) {
            try await publisher.publish(.broadcast(body: [2]))
        }
        let waited = ContinuousClock.now - start

        try broker.restart()
        try broker.createTopic(topic, partitions: 1)
        let recovered = await Self.publishEventually(.broadcast(body: [3]), with: publisher)
        let stored = try RawKafka.read(1, from: broker, topic: topic, partitions: 1)

        #expect(waited < .seconds(10), "publish waited \(waited) with a 2 s bound")
        #expect(publisher.failed.current >= 1)
        #expect(recovered)
        #expect(stored.map(\.value) == [DispatchMessage.broadcast(body: [3]).jsonBytes()])
    }

    // MARK: Helpers

    static let oneOfEachKind: [DispatchMessage] = [
        .multiple(
            server: 3, keys: [SessionKey(user: 123, seq: 1), SessionKey(user: 123, seq: 4)],
            body: Array(#"{"test":1}"#.utf8)),
        .broadcast(body: Array("to everyone".utf8)),
        .broadcastRoom(1, body: Array(#"{"test":1}"#.utf8), ensure: true),
        .broadcastRoom(-5, body: [0, 255, 10, 13], ensure: false),
        .broadcastRoom(0, body: [], ensure: false),
    ]

    /// Publishes until the broker takes the message (it may need a few seconds to be
    /// reconnected to); false if it never did within 30 s.
    static func publishEventually(
        _ message: DispatchMessage, with publisher: KafkaPublisher
    ) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            do {
                try await publisher.publish(message)
                return true
            } catch {
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        return false
    }
}
