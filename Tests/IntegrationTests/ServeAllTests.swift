import Foundation
import IMCore
import IMTestKit
import Testing

/// `imctl serve all` as a real process on port 0, driven by real TCP clients, HTTP requests and
/// the `imctl` admin commands.
@Suite(.serialized)
struct ServeAllTests {
    static let listeners: Set<String> = ["tcp", "http"]

    static func startServer(_ extra: [String] = []) throws -> ServerProcess {
        try ServerProcess(
            arguments: ["serve", "all", "--tcp", "127.0.0.1:0", "--ws", "127.0.0.1:0",
                "--http", "127.0.0.1:0", "--log-level", "info"] + extra,
            awaiting: listeners)
    }

    /// A connected, authenticated client with a label for failure messages.
    struct Device {
        var label: String
        var client: GoimTestClient
    }

    static func connect(_ server: ServerProcess, token: String, label: String) throws -> Device {
        let tcp = try #require(server.addresses["tcp"])
        let client = try GoimTestClient(host: tcp.host, port: tcp.port, timeout: 10)
        let reply = try client.authenticate(token: token)
        #expect(reply.op == Operation.authReply, "\(label) auth reply")
        return Device(label: label, client: client)
    }

    /// Reads op-5 bodies until `fence` arrives; returns the bodies before it.
    static func bodies(before fence: String, on device: Device) throws -> [String] {
        var received: [String] = []
        while true {
            guard let frame = try device.client.readFrame(timeout: 10) else {
                Issue.record("\(device.label): no fence within 10 s; got \(received)")
                return received
            }
            guard frame.op == Operation.sendMessageReply else { continue }
            let body = String(decoding: frame.body, as: UTF8.self)
            if body == fence { return received }
            received.append(body)
        }
    }

    static func admin(_ server: ServerProcess, _ arguments: [String], stdin: [UInt8]? = nil)
        throws -> CommandRunner.Result
    {
        let http = try #require(server.addresses["http"])
        return try CommandRunner.imctl(arguments + ["--logic", "http://\(http)"], stdin: stdin)
    }

    static func roomCounts(_ server: ServerProcess) throws -> String {
        let http = try #require(server.addresses["http"])
        return try HTTPTestClient(http).get("/1/count?type=room").text
    }

    /// Polls `/1/count?type=room` until it equals `expected` (counts settle within a second or two).
    static func expectRoomCounts(_ server: ServerProcess, _ expected: String) throws {
        let deadline = Date().addingTimeInterval(5)
        var last = ""
        while Date() < deadline {
            last = try roomCounts(server)
            if last == expected { return }
            usleep(50_000)
        }
        #expect(last == expected)
    }

    @Test func everyPushKindReachesExactlyTheRightConnectionsOnce() throws {
        let server = try Self.startServer()
        defer { server.stop() }

        let phoneA = try Self.connect(server, token: "1001", label: "1001 phone")
        let laptopA = try Self.connect(server, token: "1001", label: "1001 laptop")
        let userB = try Self.connect(server, token: "1002", label: "1002")
        let userC = try Self.connect(server, token: #"{"mid":1003,"room":7}"#, label: "1003")
        var crowd: [Device] = []
        for uid in 2000..<2040 {
            crowd.append(try Self.connect(server, token: "\(uid)", label: "\(uid)"))
        }
        let everyone = [phoneA, laptopA, userB, userC] + crowd

        #expect(try Self.admin(server, ["push", "--uid", "1001", "to-a"]).status == 0)
        #expect(try Self.admin(server, ["pushs", "--uids", "1002,1003", #""to-b-and-c""#]).status == 0)
        #expect(try Self.admin(server, ["push-room", "--room", "7", "to-room-7"]).status == 0)
        #expect(try Self.admin(server, ["push-room", "--room", "1", "to-room-1"]).status == 0)
        #expect(try Self.admin(server, ["push-all", "fence"]).status == 0)

        #expect(try Self.bodies(before: "fence", on: phoneA) == ["to-a", "to-room-1"])
        #expect(try Self.bodies(before: "fence", on: laptopA) == ["to-a", "to-room-1"])
        #expect(try Self.bodies(before: "fence", on: userB) == [#""to-b-and-c""#, "to-room-1"])
        #expect(try Self.bodies(before: "fence", on: userC) == [#""to-b-and-c""#, "to-room-7"])
        for device in crowd {
            #expect(try Self.bodies(before: "fence", on: device) == ["to-room-1"], "\(device.label)")
        }
        for device in everyone {
            #expect(try device.client.readFrame(timeout: 0.2) == nil, "\(device.label) got extra")
        }
    }

    @Test func countsFollowConnectsAndReturnToZero() throws {
        let server = try Self.startServer()
        defer { server.stop() }

        var devices: [Device] = []
        for uid in 1..<11 { devices.append(try Self.connect(server, token: "\(uid)", label: "\(uid)")) }
        devices.append(try Self.connect(server, token: #"{"mid":77,"room":7}"#, label: "77"))
        try Self.expectRoomCounts(server, #"{"data":[{"RoomId":1,"Count":10},{"RoomId":7,"Count":1}],"ret":1}"#)

        let http = try #require(server.addresses["http"])
        let servers = try HTTPTestClient(http).get("/1/count?type=server").text
        #expect(servers == #"{"data":[{"Server":1,"Count":11}],"ret":1}"#)

        let table = try Self.admin(server, ["count", "room"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("7"))

        for device in devices { device.client.close() }
        try Self.expectRoomCounts(server, #"{"data":[],"ret":1}"#)
    }

    @Test func malformedFrameClosesOnlyItsOwnConnection() throws {
        let server = try Self.startServer()
        defer { server.stop() }

        let good = try Self.connect(server, token: "5001", label: "good")
        let bad = try Self.connect(server, token: "5002", label: "bad")
        // headerLen 17 instead of 16.
        bad.client.sendRaw([0, 0, 0, 16, 0, 17, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1])
        #expect(bad.client.isClosedByPeer(within: 5))

        #expect(try Self.admin(server, ["push", "--uid", "5001", "still-here"]).status == 0)
        #expect(try Self.bodies(before: "still-here", on: good).isEmpty)
    }

    @Test func refusedTokenAndNonAuthFirstFrameCloseWithoutReply() throws {
        let server = try Self.startServer()
        defer { server.stop() }
        let tcp = try #require(server.addresses["tcp"])

        for token in ["abc", "-5", #""123""#] {
            let client = try GoimTestClient(host: tcp.host, port: tcp.port, timeout: 5)
            client.send(Frame(ver: 1, op: Operation.auth, seq: 1, body: Array(token.utf8)))
            #expect(client.isClosedByPeer(within: 5), "token \(token)")
        }

        let client = try GoimTestClient(host: tcp.host, port: tcp.port, timeout: 5)
        client.send(Frame(ver: 1, op: Operation.heartbeat, seq: 1, body: []))
        #expect(client.isClosedByPeer(within: 5))
    }

    @Test func clientThatStopsReadingIsDisconnectedWhileOthersKeepReceiving() throws {
        // Batching off: each push waits for its delivery, which a batching window would delay.
        let server = try Self.startServer(
            ["--outbound-limit", "64KiB", "--write-timeout", "2s", "--room-batch", "1"])
        defer { server.stop() }
        let tcp = try #require(server.addresses["tcp"])

        let reader = try Self.connect(server, token: "6001", label: "reader")
        let slow = try GoimTestClient(host: tcp.host, port: tcp.port, timeout: 10, receiveBufferSize: 4096)
        _ = try slow.authenticate(token: "6002")

        let body = String(repeating: "x", count: 16 * 1024)
        let http = try #require(server.addresses["http"])
        let api = HTTPTestClient(http)
        let pushes = 200
        for index in 0..<pushes {
            #expect(try api.post("/1/push/room?rid=1&ensure=true", body: body).status == 200, "push \(index)")
            _ = try reader.client.readFrames(count: 1, timeout: 10)
        }

        #expect(slow.isClosedByPeer(within: 10))
        #expect(try api.post("/1/push/room?rid=1", body: "after").status == 200)
        #expect(try Self.bodies(before: "after", on: reader).isEmpty)
    }

    @Test func httpErrorsUseRealStatuses() throws {
        let server = try Self.startServer(["--http-max-body", "1KiB"])
        defer { server.stop() }
        let http = try #require(server.addresses["http"])
        let api = HTTPTestClient(http)

        #expect(try api.post("/1/push?uid=abc", body: "x").status == 400)
        #expect(try api.post("/1/push", body: "x").status == 400)
        #expect(try api.post("/1/push/room?rid=-1", body: "x").status == 400)
        #expect(try api.post("/1/pushs", body: "not json").status == 400)
        #expect(try api.post("/1/server/del?server=x").status == 400)
        #expect(try api.get("/1/push?uid=1").status == 405)
        #expect(try api.get("/1/nothing").status == 404)
        let tooBig = try api.post("/1/push/all", body: String(repeating: "y", count: 2048))
        #expect(tooBig.status == 413)
        #expect(tooBig.text.contains(#""ret":65535"#))
        #expect(try api.post("/1/push/all", body: "fine").text == #"{"ret":1}"#)
    }

    @Test func adminCommandsReportUsageAndFailuresWithExitCodes() throws {
        let usage = try CommandRunner.imctl(["push", "hello"])
        #expect(usage.status == 64)
        #expect(usage.stderr.contains("--uid"))

        let unreachable = try CommandRunner.imctl(["push-all", "x", "--logic", "http://127.0.0.1:1"])
        #expect(unreachable.status == 1)

        let server = try Self.startServer()
        defer { server.stop() }
        let viaStdin = try Self.admin(server, ["push-all", "-"], stdin: Array("from stdin".utf8))
        #expect(viaStdin.status == 0)
        let bad = try Self.admin(server, ["push-room", "--room", "x", "m"])
        #expect(bad.status == 64)
    }

    @Test func sigtermStopsTheServerWithExitZero() throws {
        let server = try Self.startServer()
        let device = try Self.connect(server, token: "9001", label: "9001")

        #expect(server.stop(signal: SIGTERM, timeout: 10) == 0)
        #expect(device.client.isClosedByPeer(within: 5))
    }
}
