import Foundation
import IMTestKit
import Testing

@testable import IMCLI

@Suite struct ClientSimulateOptionsTests {
    @Test(arguments: [
        (["--clients", "0"], "'--clients'"),
        (["--clients", "-3"], "'--clients'"),
        (["--room", "3"], "--clients"),
        (["--clients", "5", "--push-rate", "10"], "--push-rate needs --room"),
        (["--clients", "5", "--tcp", "127.0.0.1:1", "--ws", "ws://127.0.0.1:1/sub"],
         "--tcp and --ws cannot be used together"),
        (["--clients", "5", "--binary"], "--binary needs --ws"),
        (["--clients", "5", "--ws", "wss://127.0.0.1:1/sub"], "wss://"),
        (["--clients", "5", "--ws", "http://127.0.0.1/sub"], "'--ws'"),
        (["--clients", "5", "--tcp", "127.0.0.1:0"], "'--tcp'"),
        (["--clients", "5", "--heartbeat", "0s"], "'--heartbeat'"),
        (["--clients", "5", "--duration", "soon"], "'--duration'"),
        (["--clients", "5", "--ramp", "0"], "'--ramp'"),
        (["--clients", "5", "--room", "-1"], "'--room'"),
        (["--clients", "5", "--room", "1", "--push-rate", "0"], "'--push-rate'"),
        (["--clients", "5", "--uid-start", "9223372036854775807"], "--uid-start"),
        (["--clients", "5", "--logic", "https://127.0.0.1:1"], "'--logic'"),
    ])
    func usageErrorsExit64WithOneLineAndTheHelpPointer(
        arguments: [String], expected: String
    ) {
        let result = imctl(["client", "simulate"] + arguments)

        #expect(result.status == 64)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.first?.hasPrefix("Error: ") == true)
        #expect(lines.first?.contains(expected) == true, "\(result.stderr)")
        #expect(lines.last == "See 'imctl client simulate --help'.")
    }

    @Test func tokensJoinTheRoomOrUseTheDecimalId() {
        var options = SimulateOptions(clients: 1, host: "127.0.0.1", port: 1, transport: .tcp)
        #expect(options.token(uid: 42) == Array("42".utf8))
        options.room = 3
        #expect(options.token(uid: 42) == Array(#"{"mid":42,"room":3}"#.utf8))
    }

    @Test func nothingListeningMeansExit1AfterTheSummary() throws {
        let port = try unusedPort()
        let result = imctl(
            ["client", "simulate", "--clients", "3", "--tcp", "127.0.0.1:\(port)", "--json"])

        #expect(result.status == 1)
        let summary = try SimulateSummary(result.stdout)
        #expect(summary.int("failed") == 3)
        #expect(summary.int("connected") == 0)
        #expect(result.stderr.contains("Error: no client could connect: connect"))
    }

    @Test func unreachableLogicForThePusherMeansExit1() throws {
        let port = try unusedPort()
        let result = imctl(
            ["client", "simulate", "--clients", "3", "--tcp", "127.0.0.1:\(port)", "--room", "1",
             "--push-rate", "5", "--logic", "http://127.0.0.1:\(port)"])

        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("Error: cannot reach logic at http://127.0.0.1:\(port)"))
    }

    /// A port that was free a moment ago (bound, then closed).
    private func unusedPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                guard bind(fd, $0, length) == 0, getsockname(fd, $0, &length) == 0 else {
                    throw POSIXError(.EADDRINUSE)
                }
            }
        }
        return UInt16(bigEndian: address.sin_port)
    }
}

/// `client simulate` against a real `imctl serve all`, run as separate processes.
@Suite(.serialized)
struct ClientSimulateEndToEndTests {
    private static func startServer() throws -> ServerProcess {
        try ServerProcess(
            arguments: ["serve", "all", "--tcp", "127.0.0.1:0", "--ws", "127.0.0.1:0",
                "--http", "127.0.0.1:0", "--log-level", "info"],
            awaiting: ["tcp", "ws", "http"])
    }

    private func simulate(
        _ server: ServerProcess, clients: Int, target: [String],
        environment: [String: String] = [:]
    ) throws -> (CommandRunner.Result, SimulateSummary) {
        let http = try #require(server.addresses["http"])
        let result = try CommandRunner.imctl(
            ["client", "simulate", "--clients", "\(clients)", "--room", "3", "--push-rate", "20",
             "--duration", "2s", "--json", "--logic", "http://\(http)"] + target,
            environment: environment, timeout: 60)
        return (result, try SimulateSummary(result.stdout))
    }

    /// Every accepted push reached every client once, latencies were measured, nothing failed.
    private func expectCompleteDelivery(
        _ result: CommandRunner.Result, _ summary: SimulateSummary, clients: Int
    ) {
        #expect(result.status == 0, "\(result.stderr)")
        #expect(summary.int("clients") == clients)
        #expect(summary.int("connected") == clients)
        #expect(summary.int("failed") == 0)
        #expect(summary.int("push_errors") == 0)
        let pushes = summary.int("pushes_sent") ?? 0
        #expect(pushes >= 20, "2 s at 20/s")
        #expect(summary.int("received") == clients * pushes)
        let latency = summary.object("latency_ms")
        #expect(latency?["p50"] is NSNumber)
        #expect((latency?["samples"] as? NSNumber)?.intValue == clients * pushes)
        #expect(((latency?["max"] as? NSNumber)?.doubleValue ?? -1) >= 0)
        #expect((summary.double("duration_s") ?? 0) >= 2)
    }

    @Test func tcpClientsReceiveEveryRoomPushInBatches() throws {
        let server = try Self.startServer()
        defer { server.stop() }
        let tcp = try #require(server.addresses["tcp"])

        let (result, summary) = try simulate(server, clients: 200, target: ["--tcp", "\(tcp)"])

        expectCompleteDelivery(result, summary, clients: 200)
        #expect(summary.int("workers") == 0)
        #expect(result.stderr.contains("connected 200/200"))
    }

    @Test func webSocketJSONClientsReceiveEveryRoomPush() throws {
        let server = try Self.startServer()
        defer { server.stop() }
        let ws = try #require(server.addresses["ws"])

        let (result, summary) = try simulate(
            server, clients: 200, target: ["--ws", "ws://\(ws)/sub"])

        expectCompleteDelivery(result, summary, clients: 200)
    }

    @Test func webSocketBinaryClientsReceiveEveryRoomPush() throws {
        let server = try Self.startServer()
        defer { server.stop() }
        let ws = try #require(server.addresses["ws"])

        let (result, summary) = try simulate(
            server, clients: 50, target: ["--ws", "ws://\(ws)/sub", "--binary"])

        expectCompleteDelivery(result, summary, clients: 50)
    }

    @Test func workerProcessesSplitTheClientsAndTheParentMergesThem() throws {
        let server = try Self.startServer()
        defer { server.stop() }
        let tcp = try #require(server.addresses["tcp"])

        let (result, summary) = try simulate(
            server, clients: 250, target: ["--tcp", "\(tcp)"],
            environment: ["IMCTL_SIMULATE_CLIENTS_PER_WORKER": "100"])

        expectCompleteDelivery(result, summary, clients: 250)
        #expect(summary.int("workers") == 3)
    }
}

/// The `--json` summary, parsed.
struct SimulateSummary {
    let fields: [String: Any]

    init(_ text: String) throws {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        fields = try #require(object as? [String: Any], "not a JSON object: \(text)")
    }

    func int(_ key: String) -> Int? { (fields[key] as? NSNumber)?.intValue }
    func double(_ key: String) -> Double? { (fields[key] as? NSNumber)?.doubleValue }
    func object(_ key: String) -> [String: Any]? { fields[key] as? [String: Any] }
}
