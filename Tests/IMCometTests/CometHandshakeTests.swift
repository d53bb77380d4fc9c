import IMCore
import IMTestKit
import Testing

@testable import IMComet

@Suite(.serialized)
struct CometHandshakeTests {
    @Test func authReplyEchoesVerAndSeqWithAnEmptyBody() async throws {
        try await withComet { harness in
            let client = try await harness.connect()
            let auth = Frame(ver: 3, op: Operation.auth, seq: 42, body: Array("1001".utf8))
            try await client.send(auth)

            let reply = try #require(try await client.readFrame())
            #expect(reply == Frame(ver: 3, op: Operation.authReply, seq: 42, body: []))
            #expect(await eventually { harness.comet.connectionCount == 1 })
            #expect(await harness.loopIndex(of: SessionKey(user: 1001, seq: 1)) != nil)
        }
    }

    @Test func refusedTokenClosesWithoutAReply() async throws {
        try await withComet { harness in
            let client = try await harness.connect()
            try await client.send(.request(Operation.auth, seq: 1, body: "not-a-user"))

            #expect(await client.isClosedByPeer())
            await #expect(throws: GoimTestClient.ClientError.closedByPeer) {
                try await client.readFrame(timeout: 0.1)
            }
            #expect(await eventually { harness.comet.metrics.authFailures.current == 1 })
            #expect(harness.comet.connectionCount == 0)
        }
    }

    @Test func unavailableLogicClosesWithoutAReply() async throws {
        let logic = FakeLogic()
        logic.failEverything()
        try await withComet(logic: logic) { harness in
            let client = try await harness.connect()
            try await client.send(.request(Operation.auth, seq: 1, body: "1"))

            #expect(await client.isClosedByPeer())
            await #expect(throws: GoimTestClient.ClientError.closedByPeer) {
                try await client.readFrame(timeout: 0.1)
            }
            #expect(await eventually { harness.comet.metrics.authFailures.current == 1 })
            #expect(logic.disconnects.isEmpty)
        }
    }

    @Test func firstFrameOtherThanAuthClosesWithoutAReplyOrLogicCall() async throws {
        try await withComet { harness in
            let client = try await harness.connect()
            try await client.send(.request(Operation.heartbeat, seq: 1))

            #expect(await client.isClosedByPeer())
            await #expect(throws: GoimTestClient.ClientError.closedByPeer) {
                try await client.readFrame(timeout: 0.1)
            }
            #expect(harness.logic.connectCount == 0)
            #expect(harness.comet.metrics.protocolErrors.current == 1)
        }
    }

    @Test func silentClientIsClosedAtTheHandshakeDeadline() async throws {
        let configuration = CometConfiguration(handshakeTimeout: .milliseconds(300))
        try await withComet(configuration) { harness in
            let client = try await harness.connect()

            #expect(await client.isClosedByPeer(within: 5))
            #expect(await eventually { harness.comet.metrics.handshakeTimeouts.current == 1 })
            #expect(harness.logic.disconnects.isEmpty)
        }
    }

    @Test func framesPipelinedBehindTheAuthFrameAreAnsweredAfterIt() async throws {
        let logic = FakeLogic()
        logic.setDelay(.milliseconds(200))
        try await withComet(logic: logic) { harness in
            let client = try await harness.connect()
            let frames: [Frame] = [
                .request(Operation.auth, seq: 1, body: "5"),
                .request(Operation.heartbeat, seq: 2),
                .request(Operation.sendMessage, seq: 3, body: "early"),
            ]
            try await client.sendRaw(frames.flatMap(\.encoded))

            let replies = try await client.readFrames(3)
            let expectedOps = [
                Operation.authReply, Operation.heartbeatReply, Operation.sendMessageReply,
            ]
            #expect(replies.map(\.op) == expectedOps)
            #expect(replies.map(\.seq) == [1, 2, 3])
            #expect(replies.last?.text == "early")
        }
    }

    @Test func sessionRecordedAfterTheClientLeftIsDisconnectedAgain() async throws {
        let logic = FakeLogic()
        logic.setDelay(.milliseconds(800))
        let configuration = CometConfiguration(handshakeTimeout: .milliseconds(200))
        try await withComet(configuration, logic: logic) { harness in
            let client = try await harness.connect()
            try await client.send(.request(Operation.auth, seq: 1, body: "77"))

            #expect(await client.isClosedByPeer(within: 5))
            let key = SessionKey(user: 77, seq: 1)
            #expect(await eventually { harness.logic.disconnects == [key] })
            #expect(harness.comet.connectionCount == 0)
        }
    }

    @Test func newerConnectionWithTheSameKeyReplacesTheOlderOneOnAnyLoop() async throws {
        let logic = FakeLogic()
        let key = SessionKey(user: 9, seq: 1)
        logic.alwaysReturn(key)
        try await withComet(logic: logic) { harness in
            // Each newer connection lands on either loop (kernel's choice); both the same-loop
            // and the cross-loop replacement must close the previous one.
            var previous = try await harness.authenticated("9")
            for _ in 1...5 {
                let newer = try await harness.authenticated("9")
                #expect(await previous.isClosedByPeer())
                previous = newer
            }

            try await harness.comet.push(keys: [key], bodies: [Array("to-newest".utf8)])
            #expect(try await previous.readFrame()?.text == "to-newest")
            #expect(await eventually { harness.comet.connectionCount == 1 })
            #expect(harness.comet.metrics.duplicateKeys.current == 5)
            #expect(
                harness.logic.disconnects.isEmpty, "the router's session belongs to the newer one")
        }
    }
}
