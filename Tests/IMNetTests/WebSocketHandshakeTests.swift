import IMCore
import Testing

@testable import IMNet

private let sampleKey = "dGhlIHNhbXBsZSBub25jZQ=="

/// A valid upgrade request for `/sub`, with `overrides` replacing (or, with nil, removing)
/// headers by name.
private func upgradeRequest(
    method: String = "GET", path: String = "/sub", _ overrides: [String: String?] = [:]
) -> HTTPRequest {
    var headers: [(name: String, value: String)] = [
        ("Host", "server.example.com"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", sampleKey), ("Origin", "http://example.com"),
        ("Sec-WebSocket-Version", "13"),
    ]
    for (name, value) in overrides {
        headers.removeAll { $0.name == name }
        if let value { headers.append((name, value)) }
    }
    return HTTPRequest(method: method, path: path, headers: headers)
}

private func handshakeError(
    _ request: HTTPRequest, httpVersion: (Int, Int) = (1, 1)
) -> WebSocketHandshakeError? {
    do {
        _ = try WebSocketHandshake.response(to: request, httpVersion: httpVersion)
        return nil
    } catch {
        return error as? WebSocketHandshakeError
    }
}

private func parse(_ text: String) throws -> HTTPParsedRequest {
    let events = HTTPRequestParser().parseAll(Array(text.utf8))
    guard case .request(let parsed)? = events.first else {
        throw WebSocketHandshakeError(status: 0, message: "test request did not parse")
    }
    return parsed
}

@Suite struct WebSocketHandshakeTests {
    @Test func computesTheRFCSampleAcceptValue() {
        #expect(WebSocketHandshake.acceptValue(forKey: sampleKey) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func answersTheRFCSampleRequestWith101() throws {
        let parsed = try parse(
            "GET /sub?room=7 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Key: \(sampleKey)\r\n"
                + "Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
                + "Sec-WebSocket-Version: 13\r\n\r\n")

        let response = try WebSocketHandshake.response(to: parsed)

        let expected =
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        #expect(response == Array(expected.utf8))
    }

    @Test(arguments: [
        ("Upgrade", "WebSocket"), ("Upgrade", "websocket, h2c"),
        ("Connection", "keep-alive, Upgrade"),
        ("Connection", "UPGRADE"), ("Sec-WebSocket-Version", " 13 "),
    ])
    func acceptsHeaderVariants(_ name: String, _ value: String) throws {
        let request = upgradeRequest([name: value])

        #expect(try !WebSocketHandshake.response(to: request).isEmpty)
    }

    @Test func acceptsTheUpgradeTokenInARepeatedConnectionHeader() throws {
        var request = upgradeRequest(["Connection": "keep-alive"])
        request.headers.append(("connection", "upgrade"))

        #expect(try !WebSocketHandshake.response(to: request).isEmpty)
    }

    @Test func acceptsAnotherConfiguredPath() throws {
        let request = upgradeRequest(path: "/ws")

        #expect(try !WebSocketHandshake.response(to: request, path: "/ws").isEmpty)
    }

    @Test(arguments: ["/", "/sub/", "/subscribe", "/SUB"])
    func answers404ForOtherPaths(_ path: String) {
        #expect(handshakeError(upgradeRequest(path: path))?.status == 404)
    }

    @Test(arguments: ["POST", "PUT", "HEAD"])
    func answers405ForOtherMethods(_ method: String) {
        let error = handshakeError(upgradeRequest(method: method))

        #expect(error?.status == 405)
        #expect(
            error.map { String(decoding: $0.responseBytes, as: UTF8.self) }?
                .contains("Allow: GET\r\n") == true)
    }

    @Test func answers400ForHTTP10() {
        #expect(handshakeError(upgradeRequest(), httpVersion: (1, 0))?.status == 400)
    }

    @Test(
        arguments: [
            ("Upgrade", nil), ("Upgrade", "h2c"), ("Upgrade", "websockets"), ("Connection", nil),
            ("Connection", "keep-alive"), ("Connection", "upgraded"), ("Sec-WebSocket-Key", nil),
            ("Sec-WebSocket-Key", ""), ("Sec-WebSocket-Key", "not base64!"),
            ("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA"),  // 15 bytes
            ("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAAAAA=="),  // 19 bytes
        ] as [(String, String?)])
    func answers400ForABadUpgradeRequest(_ name: String, _ value: String?) {
        #expect(handshakeError(upgradeRequest([name: value]))?.status == 400)
    }

    @Test(arguments: ["8", "12", "14", "13, 8", ""] as [String?] + [nil])
    func answers426ForAnotherVersion(_ version: String?) {
        let error = handshakeError(upgradeRequest(["Sec-WebSocket-Version": version]))

        #expect(error?.status == 426)
        #expect(
            error.map { String(decoding: $0.responseBytes, as: UTF8.self) }?
                .contains("Sec-WebSocket-Version: 13\r\n") == true)
    }

    @Test func writesACompleteErrorResponse() {
        let error = WebSocketHandshakeError(status: 400, message: "bad")

        let text = String(decoding: error.responseBytes, as: UTF8.self)

        #expect(
            text
                == "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                + "Content-Length: 4\r\nConnection: close\r\n\r\nbad\n")
    }
}

// MARK: - Client side

@Suite struct WebSocketClientHandshakeTests {
    static let fixedKey: [UInt8] = Array("the sample nonce".utf8)

    @Test func sendsTheRFCSampleKey() throws {
        let handshake = try WebSocketClientHandshake(
            url: WebSocketURL("ws://server.example.com/sub?room=7"), keyBytes: Self.fixedKey)

        let request = String(decoding: handshake.requestBytes, as: UTF8.self)

        #expect(handshake.key == sampleKey)
        #expect(
            request
                == "GET /sub?room=7 HTTP/1.1\r\nHost: server.example.com\r\n"
                + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: \(sampleKey)\r\nSec-WebSocket-Version: 13\r\n\r\n")
    }

    @Test func isAcceptedByTheServerSideAndAcceptsItsAnswer() throws {
        let handshake = try WebSocketClientHandshake(url: WebSocketURL("ws://127.0.0.1:8090/sub"))

        let parsed = try parse(String(decoding: handshake.requestBytes, as: UTF8.self))
        let response = try WebSocketHandshake.response(to: parsed)

        #expect(throws: Never.self) { try handshake.verify(responseHead: response) }
    }

    @Test func refusesAWrongAcceptValue() throws {
        let handshake = try WebSocketClientHandshake(url: WebSocketURL("ws://h/sub"))
        let response =
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"

        #expect(throws: WebSocketClientHandshakeError.self) {
            try handshake.verify(responseHead: Array(response.utf8))
        }
    }

    @Test func reportsTheStatusOfARefusal() throws {
        let handshake = try WebSocketClientHandshake(url: WebSocketURL("ws://h/nope"))
        let response = WebSocketHandshakeError(status: 404, message: "no").responseBytes

        let error = #expect(throws: WebSocketClientHandshakeError.self) {
            try handshake.verify(responseHead: response)
        }

        #expect(error?.status == 404)
    }

    @Test(arguments: [
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Extensions: x\r\n",
        "Connection: Upgrade\r\n", "Upgrade: websocket\r\n", "",
    ])
    func refusesAnIncompleteOrUnexpected101(_ headers: String) throws {
        let handshake = try WebSocketClientHandshake(url: WebSocketURL("ws://h/sub"))
        let accept = WebSocketHandshake.acceptValue(forKey: handshake.key)
        let response =
            "HTTP/1.1 101 Switching Protocols\r\n\(headers)Sec-WebSocket-Accept: \(accept)\r\n\r\n"

        #expect(throws: WebSocketClientHandshakeError.self) {
            try handshake.verify(responseHead: Array(response.utf8))
        }
    }

    @Test func refusesAnAnswerThatIsNotHTTP() throws {
        let handshake = try WebSocketClientHandshake(url: WebSocketURL("ws://h/sub"))

        #expect(throws: WebSocketClientHandshakeError.self) {
            try handshake.verify(responseHead: Array("SSH-2.0-OpenSSH\r\n\r\n".utf8))
        }
    }

    @Test func findsTheEndOfTheResponseHead() {
        let bytes = Array("HTTP/1.1 101 X\r\nA: b\r\n\r\n".utf8) + [0x81, 0x00]

        let length = bytes.withUnsafeBytes { WebSocketClientHandshake.responseHeadLength(in: $0) }
        let partial = bytes.withUnsafeBytes {
            WebSocketClientHandshake.responseHeadLength(
                in: UnsafeRawBufferPointer(rebasing: $0[0..<20]))
        }

        #expect(length == bytes.count - 2)
        #expect(partial == nil)
    }
}

@Suite struct WebSocketURLTests {
    @Test(arguments: [
        ("ws://127.0.0.1:8090/sub", false, "127.0.0.1", 8090, "/sub", "127.0.0.1:8090"),
        ("WS://Example.com", false, "Example.com", 80, "/", "Example.com"),
        ("wss://example.com/sub?x=1#frag", true, "example.com", 443, "/sub?x=1", "example.com"),
        ("ws://example.com?x=1", false, "example.com", 80, "/?x=1", "example.com"),
        ("ws://[::1]:9000/sub", false, "::1", 9000, "/sub", "[::1]:9000"),
        ("wss://h:443/", true, "h", 443, "/", "h"),
    ])
    func parsesURLs(
        _ text: String, _ secure: Bool, _ host: String, _ port: Int, _ target: String,
        _ hostHeader: String
    ) throws {
        let url = try WebSocketURL(text)

        #expect(url.isSecure == secure)
        #expect(url.host == host)
        #expect(url.port == port)
        #expect(url.requestTarget == target)
        #expect(url.hostHeader == hostHeader)
    }

    @Test(arguments: [
        "http://h/sub", "h:8090/sub", "ws:///sub", "ws://h:0/sub", "ws://h:65536/sub",
        "ws://h:x/sub", "ws://user@h/sub", "ws://[::1/sub", "ws://h/a b", "ws://h:+80/",
    ])
    func refusesBadURLs(_ text: String) {
        #expect(throws: WebSocketClientHandshakeError.self) { try WebSocketURL(text) }
    }
}
