import IMCore
import Testing

@testable import IMNet

/// The messages in `chunk`, as a client decodes them.
private func clientEvents(_ chunk: ByteChunk) throws -> [WebSocketEvent] {
    try WebSocketTestSupport.decode(chunk.bytes, role: .client)
}

private func text(_ value: String) -> [UInt8] { Array(value.utf8) }

@Suite struct GoimWebSocketTests {
    @Test func takesItsModeFromTheFirstMessage() {
        #expect(GoimWebSocketMode(firstMessage: .text) == .json)
        #expect(GoimWebSocketMode(firstMessage: .binary) == .binary)
    }

    @Test func readsAJSONRequest() throws {
        let frame = try GoimWebSocket.request(
            fromText: text(#"{"ver":1,"op":7,"seq":1,"body":123}"#))

        #expect(frame == Frame(ver: 1, op: 7, seq: 1, body: text("123")))
    }

    @Test(arguments: ["hello", "{\"ver\":1.5}", "[]", "{\"op\":7} x"])
    func refusesAMalformedJSONRequestWith1008(_ message: String) {
        let error = #expect(throws: WebSocketError.self) {
            try GoimWebSocket.request(fromText: text(message))
        }

        #expect(error?.closeCode == 1008)
    }

    @Test func readsABinaryRequest() throws {
        let sent = Frame(ver: 1, op: 7, seq: 1, body: text("1001"))

        #expect(try GoimWebSocket.request(fromBinary: sent.encoded, maxBodySize: 64) == sent)
    }

    @Test(arguments: [
        [UInt8](), [0, 0, 0, 16],
        Frame(op: 2).encoded + [0],  // one byte past packLen
        Frame(op: 2).encoded + Frame(op: 2).encoded,  // two frames
        Array(Frame(op: 4, body: [1, 2]).encoded.dropLast()),  // packLen past the message
        [0, 0, 0, 16, 0, 15, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1],  // header length 15
    ])
    func refusesAMalformedBinaryRequestWith1008(_ message: [UInt8]) {
        let error = #expect(throws: WebSocketError.self) {
            try GoimWebSocket.request(fromBinary: message, maxBodySize: 64)
        }

        #expect(error?.closeCode == 1008)
    }

    @Test func refusesABinaryRequestOverTheBodyLimitWith1009() {
        let message = Frame(op: 4, body: [UInt8](repeating: 0, count: 65)).encoded

        let error = #expect(throws: WebSocketError.self) {
            try GoimWebSocket.request(fromBinary: message, maxBodySize: 64)
        }

        #expect(error?.closeCode == 1009)
    }

    @Test func writesAJSONReplyAsOneTextMessage() throws {
        let reply = Frame(ver: 1, op: 8, seq: 1)

        let events = try clientEvents(GoimWebSocket.reply(reply, mode: .json))

        #expect(events == [.text(text("[{\"ver\":1,\"op\":8,\"seq\":1,\"body\":{}}]\n"))])
    }

    @Test func writesABinaryReplyAsOneFrame() throws {
        let reply = Frame(ver: 1, op: 5, seq: 9, body: text("echo"))

        let events = try clientEvents(GoimWebSocket.reply(reply, mode: .binary))

        #expect(events == [.binary(reply.encoded)])
    }

    @Test func writesJSONPushesAsOneArrayMessage() throws {
        let bodies = [text(#"{"test":1}"#), text("hello")]

        let events = try clientEvents(GoimWebSocket.pushes(bodies, mode: .json))

        let expected =
            #"[{"ver":0,"op":5,"seq":0,"body":{"test":1}},{"ver":0,"op":5,"seq":0,"body":"hello"}]"#
        #expect(events == [.text(text(expected))])
    }

    @Test func writesBinaryPushesAsOneMessagePerFrame() throws {
        let bodies = [text("a"), [], [UInt8](repeating: 7, count: 200)]

        let events = try clientEvents(GoimWebSocket.pushes(bodies, mode: .binary))

        #expect(events == bodies.map { .binary(Frame.push($0).encoded) })
    }

    @Test func cutsLongErrorReasonsToFitACloseFrame() {
        let message = text("{\"" + String(repeating: "k", count: 300) + "\":tru}")

        let error = #expect(throws: WebSocketError.self) {
            try GoimWebSocket.request(fromText: message)
        }

        #expect(error.map { $0.reason.utf8.count <= 123 } == true)
    }
}
