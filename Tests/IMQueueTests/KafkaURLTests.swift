import IMQueue
import Testing

@Suite struct KafkaURLTests {
    @Test func parsesBrokersTopicAndProperties() throws {
        let url = try KafkaURL(
            parsing:
                "kafka://k1:9092,10.0.0.2:9093,[::1]:9094/pushes?session.timeout.ms=6000&acks=1")

        #expect(url.brokers == ["k1:9092", "10.0.0.2:9093", "[::1]:9094"])
        #expect(url.bootstrapServers == "k1:9092,10.0.0.2:9093,[::1]:9094")
        #expect(url.topic == "pushes")
        #expect(url.properties == ["session.timeout.ms": "6000", "acks": "1"])
    }

    @Test func defaultsTheGroupToImctlJob() throws {
        let plain = try KafkaURL(parsing: "kafka://localhost:9092/KafkaPushsTopic")
        let grouped = try KafkaURL(parsing: "kafka://localhost:9092/t?group.id=jobs-eu")

        #expect(plain.groupID == "imctl-job")
        #expect(plain.properties.isEmpty)
        #expect(grouped.groupID == "jobs-eu")
    }

    @Test func acceptsAnUppercaseSchemeAndPercentEncodedValues() throws {
        let url = try KafkaURL(parsing: "KAFKA://h:1/t?client.id=a%2Cb%20c")

        #expect(url.properties["client.id"] == "a,b c")
    }

    @Test func describesItselfCanonicallyWithSecretsMasked() throws {
        let url = try KafkaURL(
            parsing:
                "kafka://h:1/t?sasl.password=hunter2&sasl.username=me&security.protocol=sasl_plaintext"
                + "&sasl.mechanisms=PLAIN")

        #expect(
            url.description
                == "kafka://h:1/t?sasl.mechanisms=PLAIN&sasl.password=***&sasl.username=me"
                + "&security.protocol=sasl_plaintext")
    }

    @Test(arguments: [
        ("http://h:1/t", KafkaURLError.notKafkaURL("http://h:1/t")),
        ("kafka:///t", .missingBroker),
        ("kafka://h:1", .missingTopic),
        ("kafka://h:1/", .missingTopic),
        ("kafka://h/t", .invalidBroker("h", reason: "expected HOST:PORT")),
        ("kafka://h:0/t", .invalidBroker("h:0", reason: "port must be 1-65535")),
        ("kafka://h:65536/t", .invalidBroker("h:65536", reason: "port must be 1-65535")),
        ("kafka://h:x/t", .invalidBroker("h:x", reason: "port must be 1-65535")),
        ("kafka://h:1,/t", .invalidBroker("", reason: "expected HOST:PORT")),
        ("kafka://h st:1/t", .invalidBroker("h st:1", reason: "invalid host \"h st\"")),
        (
            "kafka://h:1/a/b",
            .invalidTopic("a/b", reason: "only letters, digits, '.', '_' and '-' allowed")
        ),
        ("kafka://h:1/..", .invalidTopic("..", reason: "reserved name")),
        ("kafka://h:1/t?acks", .invalidProperty("acks", reason: "expected acks=VALUE")),
        ("kafka://h:1/t?=1", .invalidProperty("", reason: "not a property name")),
        ("kafka://h:1/t?acks=1&acks=all", .invalidProperty("acks", reason: "given twice")),
        (
            "kafka://h:1/t?acks=%zz",
            .invalidProperty("acks", reason: "bad percent-encoding in the value")
        ),
        ("kafka://h:1/t?enable.auto.commit=true", .managedProperty("enable.auto.commit")),
        ("kafka://h:1/t?bootstrap.servers=x:1", .managedProperty("bootstrap.servers")),
    ])
    func refusesMalformedURLs(text: String, expected: KafkaURLError) {
        #expect(throws: expected) { try KafkaURL(parsing: text) }
    }

    @Test func refusesPropertiesLibrdkafkaDoesNotKnow() throws {
        let error = try #require(throws: KafkaURLError.self) {
            try KafkaURL(parsing: "kafka://h:1/t?no.such.property=1")
        }

        guard case .invalidProperty(let name, let reason) = error else {
            Issue.record("unexpected error \(error)")
            return
        }
        #expect(name == "no.such.property")
        #expect(reason.contains("No such configuration property"))
    }

    @Test func refusesValuesLibrdkafkaRejects() {
        #expect(throws: KafkaURLError.self) {
            try KafkaURL(parsing: "kafka://h:1/t?session.timeout.ms=soon")
        }
    }

    @Test func refusesOverlongURLs() {
        let text = "kafka://h:1/t?client.id=" + String(repeating: "x", count: 9000)

        #expect(throws: KafkaURLError.tooLong(text.utf8.count)) { try KafkaURL(parsing: text) }
    }

    @Test func errorDescriptionsShowTheExpectedFormat() {
        let error = KafkaURLError.missingTopic

        #expect(error.description.contains("kafka://HOST:PORT[,HOST:PORT...]/TOPIC"))
    }
}

@Suite struct QueueURLTests {
    @Test(arguments: ["memory", "memory://", "MEMORY"])
    func parsesTheMemoryQueue(text: String) throws {
        #expect(try QueueURL(parsing: text) == .memory)
    }

    @Test func parsesAKafkaURL() throws {
        let queue = try QueueURL(parsing: "kafka://h:9092/pushes")

        #expect(queue == .kafka(KafkaURL(brokers: ["h:9092"], topic: "pushes")))
        #expect(queue.description == "kafka://h:9092/pushes")
    }

    @Test func passesKafkaErrorsThrough() {
        #expect(throws: QueueURLError.invalidKafkaURL(.missingTopic)) {
            try QueueURL(parsing: "kafka://h:9092")
        }
    }

    @Test(arguments: ["", "redis://h:1/x", "memory://x", "kafka"])
    func refusesOtherQueues(text: String) {
        #expect(throws: QueueURLError.unsupported(text)) { try QueueURL(parsing: text) }
    }
}
