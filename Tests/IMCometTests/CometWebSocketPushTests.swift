import IMCore
import IMNet
import IMTestKit
import Testing

@testable import IMComet

@Suite(.serialized)
struct CometWebSocketPushTests {
    @Test func roomPushReachesTCPAndBothWebSocketModes() async throws {
        try await withWebSocketComet { harness, port in
            let tcp = try await harness.authenticated(#"{"mid":1,"room":5}"#)
            let json = try await WSClient.json(port, token: #"{"mid":2,"room":5}"#)
            let binary = try await WSClient.binary(port, token: #"{"mid":3,"room":5}"#)

            try await harness.comet.broadcastRoom(5, bodies: [Array(#"{"test":1}"#.utf8)])

            #expect(try await tcp.readFrame() == Frame.push(Array(#"{"test":1}"#.utf8)))
            #expect(try await json.text() == #"[{"ver":0,"op":5,"seq":0,"body":{"test":1}}]"#)
            #expect(try await binary.binaryFrame() == Frame.push(Array(#"{"test":1}"#.utf8)))
            #expect(await eventually { harness.comet.metrics.deliveries.current == 3 })
        }
    }

    @Test func batchIsOneJSONArrayButSeparateBinaryMessages() async throws {
        try await withWebSocketComet { harness, port in
            let json = try await WSClient.json(port, token: #"{"mid":1,"room":9}"#)
            let binary = try await WSClient.binary(port, token: #"{"mid":2,"room":9}"#)
            let bodies = ["1", "[2]", #"{"n":3}"#].map { Array($0.utf8) }

            try await harness.comet.broadcastRoom(9, bodies: bodies)

            let frames = try await json.jsonFrames()
            #expect(frames.map(\.body) == bodies)
            #expect(frames.allSatisfy { $0.op == Operation.push && $0.seq == 0 && $0.ver == 0 })
            for body in bodies {
                #expect(try await binary.binaryFrame() == Frame.push(body))
            }
        }
    }

    @Test func nonJSONBodyReachesJSONClientsAsAStringAndTheyStayConnected() async throws {
        try await withWebSocketComet { harness, port in
            let json = try await WSClient.json(port, token: "21")
            let binary = try await WSClient.binary(port, token: "22")
            let keys = [SessionKey(user: 21, seq: 1), SessionKey(user: 22, seq: 1)]

            try await harness.comet.push(keys: keys, bodies: [Array("hello".utf8), [0xFF, 0]])

            let expected =
                #"[{"ver":0,"op":5,"seq":0,"body":"hello"},"#
                + #"{"ver":0,"op":5,"seq":0,"body":{"base64":"/wA="}}]"#
            #expect(try await json.text() == expected)
            #expect(try await binary.binaryFrame()?.body == Array("hello".utf8))
            #expect(try await binary.binaryFrame()?.body == [0xFF, 0])
            await json.sendText(#"{"ver":1,"op":2,"seq":2}"#)
            #expect(try await json.jsonFrames().map(\.op) == [Operation.heartbeatReply])
        }
    }

    @Test func broadcastReachesEveryFormat() async throws {
        try await withWebSocketComet { harness, port in
            let tcp = try await harness.authenticated("31")
            let json = try await WSClient.json(port, token: "32")
            let upgradedOnly = try await WSClient.open(port)

            try await harness.comet.broadcast(bodies: [Array("all".utf8)])

            #expect(try await tcp.readFrame()?.text == "all")
            #expect(try await json.text() == #"[{"ver":0,"op":5,"seq":0,"body":"all"}]"#)
            #expect(try await upgradedOnly.staysQuiet())
        }
    }

    @Test func eachFormatIsEncodedOnceAndOnlyWhenSomeoneReceivesIt() {
        let pushes = PushEncodings([Array("x".utf8)])
        #expect(pushes.encodedFormatCount == 0)

        let first = pushes.chunk(for: .webSocketJSON)
        let second = pushes.chunk(for: .webSocketJSON)

        #expect(first === second)
        #expect(pushes.encodedFormatCount == 1)
        #expect(pushes.chunk(for: .tcp).bytes == Frame.pushBatchChunk([Array("x".utf8)]).bytes)
        #expect(pushes.encodedFormatCount == 2)
    }
}
