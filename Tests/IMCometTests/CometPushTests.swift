import IMCore
import IMTestKit
import Testing

@testable import IMComet

@Suite(.serialized)
struct CometPushTests {
    @Test func pushToKeysReachesExactlyThoseConnectionsOnEveryLoop() async throws {
        try await withComet { harness in
            let devices = try await devicesOnBothLoops(of: 7, harness)
            let other = try await harness.authenticated("8")
            let keys = [devices.0.key, devices.1.key, SessionKey(user: 99, seq: 1)]

            try await harness.comet.push(keys: keys, bodies: [Array("hello 7".utf8)])

            for device in [devices.0.client, devices.1.client] {
                let frame = try #require(try await device.readFrame())
                #expect(frame == Frame.push(Array("hello 7".utf8)))
                #expect(frame.ver == 0 && frame.seq == 0)
            }
            #expect(try await other.staysQuiet())
            #expect(harness.comet.metrics.deliveries.current == 2)
        }
    }

    @Test func batchOfThreeBodiesArrivesAsThreeFramesInOrder() async throws {
        try await withComet { harness in
            let client = try await harness.authenticated("3")
            let bodies = ["first", "second", "third"].map { Array($0.utf8) }

            try await harness.comet.push(keys: [SessionKey(user: 3, seq: 1)], bodies: bodies)

            let frames = try await client.readFrames(3)
            #expect(frames.map(\.body) == bodies)
            #expect(frames.allSatisfy { $0.op == Operation.push && $0.seq == 0 && $0.ver == 0 })
            #expect(await eventually { harness.comet.metrics.deliveries.current == 3 })
        }
    }

    @Test func roomBroadcastReachesExactlyTheRoomsMembers() async throws {
        try await withComet { harness in
            let members = [
                try await harness.authenticated(#"{"mid":1,"room":5}"#),
                try await harness.authenticated(#"{"mid":2,"room":5}"#),
            ]
            let outsiders = [
                try await harness.authenticated(#"{"mid":3,"room":6}"#),
                try await harness.authenticated("4"),
                try await harness.authenticated(#"{"mid":5}"#),
            ]

            try await harness.comet.broadcastRoom(5, bodies: [Array("room 5".utf8)])

            for member in members {
                #expect(try await member.readFrame()?.text == "room 5")
            }
            for outsider in outsiders {
                #expect(try await outsider.staysQuiet())
            }
        }
    }

    @Test func broadcastReachesEveryAuthenticatedConnection() async throws {
        try await withComet { harness in
            var clients: [TestClient] = []
            for token in ["1", "2", #"{"mid":3,"room":6}"#, #"{"mid":4}"#, "5"] {
                clients.append(try await harness.authenticated(token))
            }
            let handshaking = try await harness.connect()

            try await harness.comet.broadcast(bodies: [Array("everyone".utf8)])

            for client in clients {
                #expect(try await client.readFrame()?.text == "everyone")
            }
            #expect(try await handshaking.staysQuiet())
            #expect(harness.comet.metrics.deliveries.current == clients.count)
        }
    }

    @Test func roomMembershipEndsWhenTheConnectionCloses() async throws {
        try await withComet { harness in
            let leaving = try await harness.authenticated(#"{"mid":1,"room":5}"#)
            let staying = try await harness.authenticated(#"{"mid":2,"room":5}"#)
            leaving.close()
            #expect(await eventually { harness.comet.connectionCount == 1 })

            try await harness.comet.broadcastRoom(5, bodies: [Array("after".utf8)])

            #expect(try await staying.readFrame()?.text == "after")
            let rooms = await harness.comet.loopSnapshots().map(\.roomMembers)
            #expect(rooms.reduce(0) { $0 + ($1[5] ?? 0) } == 1)
        }
    }

    typealias Device = (client: TestClient, key: SessionKey)

    /// Authenticates devices of `user` until two sit on different loops (the kernel spreads
    /// connections over the loops' listening sockets by hash, so it may take a few).
    private func devicesOnBothLoops(
        of user: UserID, _ harness: CometHarness
    ) async throws -> (Device, Device) {
        var byLoop: [Int: Device] = [:]
        for seq in Int32(1)...32 {
            let client = try await harness.authenticated("\(user)")
            let key = SessionKey(user: user, seq: seq)
            let loop = try #require(await harness.loopIndex(of: key))
            if byLoop[loop] == nil { byLoop[loop] = (client, key) } else { client.close() }
            if let first = byLoop[0], let second = byLoop[1] { return (first, second) }
        }
        Issue.record("32 connections all landed on one loop")
        throw CancellationError()
    }
}
