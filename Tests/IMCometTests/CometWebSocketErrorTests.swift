import IMCore
import IMNet
import IMTestKit
import Testing

@testable import IMComet

@Suite(.serialized)
struct CometWebSocketErrorTests {
    @Test(arguments: [
        (upgradeRequest(path: "/other"), 404),
        (upgradeRequest(method: "POST"), 405),
        (upgradeRequest(headers: ["Sec-WebSocket-Key": nil]), 400),
        (upgradeRequest(headers: ["Upgrade": nil]), 400),
        (upgradeRequest(headers: ["Sec-WebSocket-Version": "8"]), 426),
        (Array("NOT HTTP AT ALL\r\n\r\n".utf8), 400),
    ])
    func badUpgradeGetsAnHTTPErrorThenClose(request: [UInt8], status: Int) async throws {
        try await withWebSocketComet { harness, port in
            let client = try await WSClient.connect(port)
            await client.sendRaw(request)

            let head = try await client.httpHead()
            #expect(head.hasPrefix("HTTP/1.1 \(status) "))
            #expect(await client.isClosedByPeer())
            #expect(await eventually { harness.comet.metrics.protocolErrors.current == 1 })
        }
    }

    @Test func queryStringIsAccepted() async throws {
        try await withWebSocketComet { _, port in
            let client = try await WSClient.connect(port)
            #expect(try await client.upgrade(path: "/sub?room=1&x=y").status == 101)
        }
    }

    @Test func oversizedRequestHeadIsRefused() async throws {
        try await withWebSocketComet { _, port in
            let client = try await WSClient.connect(port)
            let padding = String(repeating: "a", count: 9000)
            await client.sendRaw(upgradeRequest(headers: ["X-Padding": padding]))

            #expect(try await client.httpHead().hasPrefix("HTTP/1.1 400 "))
        }
    }

    @Test func eightMebibyteMessageIsRefusedWith1009AndOthersAreUnaffected() async throws {
        try await withWebSocketComet { harness, port in
            let bystander = try await WSClient.json(port, token: #"{"mid":1,"room":3}"#)
            let tcp = try await harness.authenticated(#"{"mid":2,"room":3}"#)
            let big = try await WSClient.json(port, token: #"{"mid":3,"room":3}"#)

            // The first 64 KiB of an 8 MiB message: its header alone must get it refused.
            let message = WebSocketEncoder.maskedFrame(
                .text, payload: Array(repeating: 0x20, count: 8 << 20))
            await big.sendRaw(Array(message.prefix(64 << 10)))

            #expect(await big.closeCode() == .some(WebSocketCloseCode.messageTooBig))
            #expect(await big.isClosedByPeer())
            try await harness.comet.broadcastRoom(3, bodies: [Array("still here".utf8)])
            let pushed = try await bystander.text()
            #expect(pushed == #"[{"ver":0,"op":5,"seq":0,"body":"still here"}]"#)
            #expect(try await tcp.readFrame()?.text == "still here")
        }
    }

    @Test func unmaskedFrameIsClosedWith1002() async throws {
        try await withWebSocketComet { _, port in
            let client = try await WSClient.json(port, token: "4")
            let unmasked = WebSocketEncoder.text(Array(#"{"op":2,"seq":2}"#.utf8)).bytes
            await client.sendRaw(unmasked)

            #expect(await client.closeCode() == .some(WebSocketCloseCode.protocolError))
            #expect(await client.isClosedByPeer())
        }
    }

    @Test func binaryMessageOnAJSONConnectionIsClosedWith1003() async throws {
        try await withWebSocketComet { _, port in
            let client = try await WSClient.json(port, token: "5")
            await client.sendBinary(.request(Operation.heartbeat, seq: 2))

            #expect(await client.closeCode() == .some(WebSocketCloseCode.unsupportedData))
        }
    }

    @Test func invalidUTF8TextIsClosedWith1007() async throws {
        try await withWebSocketComet { _, port in
            let client = try await WSClient.json(port, token: "6")
            await client.send(.text, [0x7B, 0xC3, 0x28, 0x7D])

            #expect(await client.closeCode() == .some(WebSocketCloseCode.invalidPayloadData))
        }
    }

    @Test func malformedJSONIsClosedWith1008() async throws {
        try await withWebSocketComet { _, port in
            let client = try await WSClient.json(port, token: "7")
            await client.sendText(#"{"op":"2"}"#)

            #expect(await client.closeCode() == .some(WebSocketCloseCode.policyViolation))
        }
    }

    @Test func bodyOverTheBodyLimitIsClosedWith1009() async throws {
        try await withWebSocketComet(CometConfiguration(maxBodySize: 16)) { _, port in
            let client = try await WSClient.json(port, token: "8")
            await client.sendText(#"{"op":4,"seq":2,"body":"0123456789abcdefghij"}"#)

            #expect(await client.closeCode() == .some(WebSocketCloseCode.messageTooBig))
        }
    }
}
