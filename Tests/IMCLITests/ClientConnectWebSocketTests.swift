import IMCore
import Testing

@testable import IMCLI

/// `imctl client connect --ws` against a real comet (WebSocket listener, accepting logic).
@Suite(.serialized)
struct ClientConnectWebSocketTests {
    @Test func jsonModePrintsEachPushedBody() async throws {
        let result = try await WebSocketComet().session(
            ["--token", #"{"mid":1003,"room":7}"#], bodies: [#"{"a":1}"#, "[2]"])

        #expect(result.stdout == "{\"a\":1}\n[2]\n")
        #expect(result.stderr.hasPrefix("authenticated\nError: the server closed the connection"))
        #expect(result.status == 1)
    }

    @Test func binaryModePrintsBodiesByteForByte() async throws {
        let result = try await WebSocketComet().session(
            ["--binary", "--token", #"{"mid":1004,"room":7}"#], bodies: ["plain text", "x"])

        #expect(result.stdout == "plain text\nx\n")
        #expect(result.status == 1)
    }

    @Test func jsonRequestPlacesTheTokenAsRawJSON() {
        let auth = Frame(ver: 1, op: Operation.auth, seq: 1, body: Array("1001".utf8))
        let text = String(decoding: WebSocketClientSession.jsonRequest(auth), as: UTF8.self)
        #expect(text == #"{"ver":1,"op":7,"seq":1,"body":1001}"#)

        let word = Frame(ver: 1, op: Operation.auth, seq: 1, body: Array("abc".utf8))
        let quoted = String(decoding: WebSocketClientSession.jsonRequest(word), as: UTF8.self)
        #expect(quoted == #"{"ver":1,"op":7,"seq":1,"body":"abc"}"#)
    }

    @Test func binaryWithoutWebSocketIsAUsageError() {
        let result = imctl(["client", "connect", "--token", "1", "--binary"])

        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("Error: --binary needs --ws\n"))
    }
}
