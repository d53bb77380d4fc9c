import Foundation
import IMCore
import IMTestKit
import Testing

/// A whole distributed imctl on this machine, the way `scripts/cluster` runs it: a tansu
/// broker with a fresh 3-partition topic, two routers, one logic with both routers, comets 1
/// and 2 and one job, each a real `imctl serve ...` process listening on port 0.
///
/// ```
/// let cluster = try TestCluster.start()
/// defer { cluster.stop() }
/// ```
///
/// `start()` returns once job has consumed a probe push, i.e. the whole chain HTTP → Kafka →
/// job → comet works. Short timers keep the failure scenarios quick: comets refresh every
/// second, logic drops a comet after `cometExpiry` and answers 503 after `publishTimeout`.
/// Not thread-safe: one test drives it.
final class TestCluster {
    enum Role: Hashable, CustomStringConvertible {
        case router(Int)
        case logic
        case job
        case comet(Int32)

        var description: String {
            switch self {
            case .router(let name): "router-\(name)"
            case .logic: "logic"
            case .job: "job"
            case .comet(let id): "comet-\(id)"
            }
        }

        /// The listeners a role logs before it is usable (job has none).
        var listeners: Set<String> {
            switch self {
            case .router: ["rpc"]
            case .logic: ["rpc", "http"]
            case .job: []
            case .comet: ["rpc", "tcp"]
            }
        }
    }

    /// Logic's `--comet-expiry`, in seconds.
    static let cometExpiry: TimeInterval = 3
    /// Logic's `--publish-timeout`, in seconds.
    static let publishTimeout: TimeInterval = 3
    /// The comets' `--register-interval`.
    static let registerInterval = "1s"
    /// The partitions of the topic.
    static let partitions = 3

    /// Why the cluster tests cannot run here (they fail rather than skip; see KafkaBroker).
    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    /// The switch shared with the other Kafka suites, shown in the test report.
    static let enabled = Testing.ConditionTrait.enabled(
        if: !KafkaBroker.isSkipRequested, "Kafka tests skipped: IMCTL_SKIP_KAFKA_TESTS=1")

    let broker: KafkaBroker
    let topic: String
    private var processes: [Role: ServerProcess] = [:]
    /// Start order, so `stop()` can stop the newest first.
    private var started: [Role] = []
    private var arguments: [Role: [String]] = [:]

    private init(broker: KafkaBroker, topic: String) {
        self.broker = broker
        self.topic = topic
    }

    /// Starts the broker, the topic and every role, then waits until a push is delivered.
    /// Whatever started is stopped again when a step fails.
    static func start() throws -> TestCluster {
        try checkLibraryPath()
        let broker = try KafkaBroker()
        let topic = KafkaBroker.uniqueTopic("imctl-cluster")
        let cluster = TestCluster(broker: broker, topic: topic)
        do {
            try broker.createTopic(topic, partitions: partitions)
            try cluster.startRoles()
            try cluster.waitUntilJobDelivers()
        } catch {
            cluster.stop()
            throw error
        }
        return cluster
    }

    /// The imctl processes load librdkafka from `LD_LIBRARY_PATH`; Debian's 2.0.2 cannot talk
    /// to tansu and would only show up as pushes that never arrive.
    private static func checkLibraryPath() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let directory = environment["IMCTL_RDKAFKA_LIBDIR"], !directory.isEmpty else {
            throw KafkaBroker.BrokerError.notProvisioned
        }
        let path = (environment["LD_LIBRARY_PATH"] ?? "").split(separator: ":")
        guard path.contains(where: { $0 == directory }) else {
            throw SetupError(
                description: "LD_LIBRARY_PATH lacks \(directory): run the tests with"
                    + " LD_LIBRARY_PATH=$IMCTL_RDKAFKA_LIBDIR (see scripts/kafka-test-broker),"
                    + " or set \(KafkaBroker.skipVariable)=1")
        }
    }

    /// `kafka://` for logic and job: tansu-friendly group timing (docs/kafka.md), fast
    /// reconnects and metadata refreshes for the broker-restart scenario, no auto-created
    /// topics (a producer that reconnects first must not create the topic with other settings),
    /// and a consumer group of this cluster only.
    var queueURL: String {
        let properties = [
            "session.timeout.ms=6000", "topic.metadata.refresh.interval.ms=500",
            "reconnect.backoff.max.ms=500", "linger.ms=1", "allow.auto.create.topics=false",
            "group.id=\(topic)-job",
        ]
        return "kafka://\(broker.address)/\(topic)?" + properties.joined(separator: "&")
    }

    private func startRoles() throws {
        try start(.router(1), ["serve", "router", "--rpc", "127.0.0.1:0"])
        try start(.router(2), ["serve", "router", "--rpc", "127.0.0.1:0"])
        try start(
            .logic,
            [
                "serve", "logic", "--rpc", "127.0.0.1:0", "--http", "127.0.0.1:0",
                "--router", "1=\(try address(.router(1), "rpc"))",
                "--router", "2=\(try address(.router(2), "rpc"))",
                "--queue", queueURL, "--comet-expiry", "\(Int(Self.cometExpiry))s",
                "--publish-timeout", "\(Int(Self.publishTimeout))s",
            ])
        try startComet(1)
        try startComet(2)
        try startJob()
    }

    /// Starts comet `id` (a new process; after a kill, the same server id again).
    func startComet(_ id: Int32) throws {
        try start(
            .comet(id),
            [
                "serve", "comet", "--server-id", "\(id)", "--tcp", "127.0.0.1:0",
                "--ws", "127.0.0.1:0", "--rpc", "127.0.0.1:0",
                "--logic-rpc", "\(try address(.logic, "rpc"))",
                "--register-interval", Self.registerInterval,
            ])
    }

    /// Starts job and waits until it has logic's comet list (it consumes only then).
    func startJob() throws {
        try start(
            .job,
            ["serve", "job", "--logic-rpc", "\(try address(.logic, "rpc"))", "--queue", queueURL])
        try waitForLog(of: .job, containing: "comets loaded")
    }

    /// Starts `role` with `arguments` (plus one loop and info logging) and waits for its
    /// listeners.
    private func start(_ role: Role, _ arguments: [String]) throws {
        precondition(processes[role] == nil, "\(role) is running")
        self.arguments[role] = arguments
        processes[role] = try ServerProcess(
            arguments: arguments + ["--loops", "1", "--log-level", "info"],
            awaiting: role.listeners)
        started.removeAll { $0 == role }
        started.append(role)
    }

    /// Starts `role` again with the arguments of its last start (new ports for listeners).
    func restart(_ role: Role) throws {
        let arguments = try #require(self.arguments[role], "\(role) never started")
        stop(role)
        try start(role, arguments)
        if role == .job { try waitForLog(of: .job, containing: "comets loaded") }
    }

    /// Stops `role` with `signal` (SIGTERM: a clean stop; SIGKILL: a crash) and waits for it.
    func stop(_ role: Role, signal: Int32 = SIGTERM) {
        guard let process = processes.removeValue(forKey: role) else { return }
        process.stop(signal: signal, timeout: 10)
        started.removeAll { $0 == role }
    }

    /// `kill -9`: the process gets no chance to tell anyone.
    func kill(_ role: Role) {
        stop(role, signal: SIGKILL)
    }

    /// Stops every role, newest first, then the broker. Safe to call more than once.
    func stop() {
        for role in started.reversed() { stop(role) }
        broker.stop()
    }

    // MARK: Addresses and logs

    func address(_ role: Role, _ proto: String) throws -> HostPort {
        let process = try #require(processes[role], "\(role) is not running")
        return try #require(process.addresses[proto], "\(role) has no \(proto) listener")
    }

    func log(of role: Role) -> String {
        processes[role]?.log ?? "(\(role) is not running)"
    }

    /// Polls `role`'s log for `text` (up to `timeout` seconds).
    func waitForLog(of role: Role, containing text: String, timeout: TimeInterval = 20) throws {
        let satisfied = eventually(timeout: timeout) { log(of: role).contains(text) }
        guard satisfied else {
            throw SetupError(description: "\(role) never logged \"\(text)\":\n\(log(of: role))")
        }
    }

    // MARK: Clients

    /// A TCP client of comet `comet`, authenticated with `token`.
    func connect(comet: Int32, token: String, label: String? = nil) throws -> ClusterDevice {
        let client = try GoimTestClient(try address(.comet(comet), "tcp"), timeout: 10)
        let reply = try client.authenticate(token: token)
        #expect(reply.op == Operation.authReply)
        return ClusterDevice(label: label ?? "\(token)@comet-\(comet)", client: client)
    }

    /// logic's HTTP API.
    var http: HTTPTestClient {
        get throws { HTTPTestClient(try address(.logic, "http"), timeout: 30) }
    }

    /// `POST path` with `body`; the response whatever its status.
    @discardableResult
    func post(_ path: String, _ body: String) throws -> HTTPTestClient.Response {
        try http.post(path, body: body)
    }

    /// `POST path` with `body`, expecting goim's success answer (`{"ret":1}`, i.e. stored by
    /// Kafka).
    func push(_ path: String, _ body: String, sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        let response = try post(path, body)
        #expect(response.status == 200, "\(path): \(response.text)", sourceLocation: sourceLocation)
        #expect(response.text == #"{"ret":1}"#, "\(path)", sourceLocation: sourceLocation)
    }

    /// `GET /1/count?type=...` as text.
    func counts(_ type: String) throws -> String {
        try http.get("/1/count?type=\(type)").text
    }

    /// Polls `/1/count?type=...` until it equals `expected`; whether it did within `timeout`.
    func waitForCounts(_ type: String, _ expected: String, timeout: TimeInterval) throws -> Bool {
        var failure: (any Error)?
        let matched = eventually(timeout: timeout) {
            do {
                return try counts(type) == expected
            } catch {
                failure = error
                return false
            }
        }
        if !matched, let failure { throw failure }
        return matched
    }

    /// Job consumes only after its group join, which tansu holds for a few seconds: one
    /// push to a probe device on each comet proves the chain end to end. Job starts a new
    /// group at the earliest offset, so a single push is enough however long the join takes.
    private func waitUntilJobDelivers() throws {
        let probes = [
            try connect(comet: 1, token: "999999", label: "probe@1"),
            try connect(comet: 2, token: "999999", label: "probe@2"),
        ]
        defer { probes.forEach { $0.client.close() } }
        try push("/1/push?uid=999999", "probe")
        for probe in probes {
            let received = try probe.bodies(count: 1, timeout: 30)
            guard received == ["probe"] else {
                throw SetupError(
                    description: "\(probe.label) got \(received) instead of the probe push;"
                        + " job's log:\n\(log(of: .job))")
            }
        }
    }
}

/// A connected client of one comet with a label for failure messages.
struct ClusterDevice {
    var label: String
    var client: GoimTestClient

    /// The bodies of the pushes (op 5) received until `count` arrived or `timeout` passed.
    func bodies(count: Int, timeout: TimeInterval) throws -> [String] {
        var received: [String] = []
        let deadline = Date().addingTimeInterval(timeout)
        while received.count < count {
            let left = deadline.timeIntervalSinceNow
            guard left > 0, let frame = try client.readFrame(timeout: left) else { break }
            guard frame.op == Operation.sendMessageReply else { continue }
            received.append(String(decoding: frame.body, as: UTF8.self))
        }
        return received
    }

    /// The bodies received until every one of `expected` arrived at least once or `timeout`
    /// passed, duplicates included.
    func bodies(untilAllOf expected: Set<String>, timeout: TimeInterval) throws -> [String] {
        var received: [String] = []
        let deadline = Date().addingTimeInterval(timeout)
        while !expected.isSubset(of: Set(received)) {
            let left = deadline.timeIntervalSinceNow
            guard left > 0, let frame = try client.readFrame(timeout: left) else { break }
            guard frame.op == Operation.sendMessageReply else { continue }
            received.append(String(decoding: frame.body, as: UTF8.self))
        }
        return received
    }

    /// Whatever pushes arrive within `seconds` (expected: none).
    func extraBodies(within seconds: TimeInterval) throws -> [String] {
        try bodies(count: .max, timeout: seconds)
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` seconds passed.
func eventually(timeout: TimeInterval, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(50_000)
    }
    return try condition()
}
