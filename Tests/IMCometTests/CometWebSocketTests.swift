import IMCore
import IMNet
import IMTestKit
import Testing

@testable import IMComet

@Suite(.serialized)
struct CometWebSocketTests {
    @Test func jsonAuthIsAnsweredWithGoimsReplyText() async throws {
        try await withWebSocketComet { harness, port in
            let client = try await WSClient.open(port)
            await client.sendText(#"{"ver":1,"op":7,"seq":1,"body":1001}"#)

            #expect(try await client.text() == "[{\"ver\":1,\"op\":8,\"seq\":1,\"body\":{}}]\n")
            #expect(await eventually { harness.comet.connectionCount == 1 })
            #expect(await harness.loopIndex(of: SessionKey(user: 1001, seq: 1)) != nil)
        }
    }

    @Test func jsonTokenObjectPutsTheClientInItsRoom() async throws {
        try await withWebSocketComet { harness, port in
            let client = try await WSClient.json(port, token: #"{"mid":1003,"room":7}"#)
            defer { client.raw.close() }

            let rooms = await harness.comet.loopSnapshots().map(\.roomMembers)
            #expect(rooms.reduce(0) { $0 + ($1[7] ?? 0) } == 1)
        }
    }

    @Test func heartbeatAndEchoAreAnsweredInJSON() async throws {
        try await withWebSocketComet { _, port in
            let client = try await WSClient.json(port, token: "5")

            await client.sendText(#"{"ver":1,"op":2,"seq":2}"#)
            #expect(try await client.text() == "[{\"ver\":1,\"op\":3,\"seq\":2,\"body\":{}}]\n")

            await client.sendText(#"{"ver":1,"op":4,"seq":3,"body":{"a":1}}"#)
            let echo = try await client.text()
            #expect(echo == #"[{"ver":1,"op":5,"seq":3,"body":{"a":1}}]"# + "\n")

            await client.sendText(#"{"ver":1,"op":254,"seq":4}"#)
            let test = try await client.jsonFrames()
            #expect(test.map(\.op) == [Operation.testReply])
            #expect(test.first?.body == ReplyEncoding.testBody)
        }
    }

    @Test func binaryModeSpeaksTheTCPFrameLayout() async throws {
        try await withWebSocketComet { _, port in
            let client = try await WSClient.binary(port, token: "6")

            await client.sendBinary(.request(Operation.heartbeat, seq: 2))
            #expect(try await client.binaryFrame() == Frame(ver: 1, op: 3, seq: 2, body: []))

            await client.sendBinary(.request(Operation.sendMessage, seq: 3, body: "\u{1}raw"))
            let echo = try await client.binaryFrame()
            let expected = Frame(
                ver: 1, op: Operation.sendMessageReply, seq: 3, body: [1] + Array("raw".utf8))
            #expect(echo == expected)
        }
    }

    @Test func requestsPipelinedBehindAuthAreAnsweredInOrder() async throws {
        try await withWebSocketComet { _, port in
            let client = try await WSClient.open(port)
            let auth = WebSocketEncoder.maskedFrame(
                .text, payload: Array(#"{"op":7,"seq":1,"body":8}"#.utf8))
            let beat = WebSocketEncoder.maskedFrame(
                .text, payload: Array(#"{"op":2,"seq":2}"#.utf8))
            await client.sendRaw(auth + beat)

            #expect(try await client.jsonFrames().map(\.op) == [Operation.authReply])
            #expect(try await client.jsonFrames().map(\.op) == [Operation.heartbeatReply])
        }
    }

    @Test func pingIsAnsweredWithAPongCarryingItsPayload() async throws {
        try await withWebSocketComet { _, port in
            let client = try await WSClient.json(port, token: "9")
            await client.send(.ping, Array("are you there".utf8))

            #expect(try await client.event() == .pong(Array("are you there".utf8)))
        }
    }

    @Test func closeIsEchoedThenTheConnectionEnds() async throws {
        try await withWebSocketComet { harness, port in
            let client = try await WSClient.json(port, token: "10")
            await client.send(.close, WebSocketEncoder.closePayload(code: 1000, reason: "bye"))

            #expect(await client.closeCode() == .some(1000))
            #expect(await client.isClosedByPeer())
            #expect(await eventually { harness.comet.connectionCount == 0 })
            #expect(harness.comet.metrics.protocolErrors.current == 0)
        }
    }

    @Test func refusedTokenIsClosedWith1008AndNoReply() async throws {
        try await withWebSocketComet { harness, port in
            let client = try await WSClient.open(port)
            await client.sendText(#"{"ver":1,"op":7,"seq":1,"body":"not-a-user"}"#)

            #expect(await client.closeCode() == .some(WebSocketCloseCode.policyViolation))
            #expect(await client.isClosedByPeer())
            #expect(await eventually { harness.comet.metrics.authFailures.current == 1 })
        }
    }

    @Test func firstMessageOtherThanAuthIsClosedWith1008() async throws {
        try await withWebSocketComet { harness, port in
            let client = try await WSClient.open(port)
            await client.sendText(#"{"ver":1,"op":2,"seq":1}"#)

            #expect(await client.closeCode() == .some(WebSocketCloseCode.policyViolation))
            #expect(harness.logic.connectCount == 0)
        }
    }

    @Test func shutdownSendsGoingAway() async throws {
        let harness = try CometHarness.start(CometConfiguration(), logic: FakeLogic(), loopCount: 2)
        let port = UInt16(try harness.comet.listenWebSocket(host: "127.0.0.1", port: 0).port)
        let client = try await WSClient.json(port, token: "11")

        await harness.stop()

        #expect(await client.closeCode() == .some(WebSocketCloseCode.goingAway))
    }
}
