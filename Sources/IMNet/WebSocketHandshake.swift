import COpenSSL
import IMCore

/// Why an upgrade request was refused, with the HTTP answer to send before closing.
public struct WebSocketHandshakeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 400 (not a valid upgrade request), 404 (path other than the WebSocket path), 405 (method
    /// other than GET) or 426 (WebSocket version other than 13).
    public var status: Int
    /// A short reason, sent as the plain-text body.
    public var message: String

    public init(status: Int, message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status) \(message)" }

    /// The complete HTTP/1.1 response: status line, `Content-Type: text/plain`,
    /// `Content-Length`, `Connection: close`, `Allow: GET` for 405, `Sec-WebSocket-Version: 13`
    /// for 426, then `message` and a newline as the body.
    public var responseBytes: [UInt8] {
        let body = message + "\n"
        var head = "HTTP/1.1 \(status) \(Self.reasonPhrase(status))\r\n"
        head += "Content-Type: text/plain; charset=utf-8\r\n"
        head += "Content-Length: \(body.utf8.count)\r\n"
        if status == 405 { head += "Allow: GET\r\n" }
        if status == 426 {
            head += "Upgrade: websocket\r\n"
            head += "Sec-WebSocket-Version: \(WebSocketHandshake.version)\r\n"
        }
        head += "Connection: close\r\n\r\n"
        return Array((head + body).utf8)
    }

    private static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 426: return "Upgrade Required"
        default: return "Error"
        }
    }

    static func badRequest(_ message: String) -> WebSocketHandshakeError {
        WebSocketHandshakeError(status: 400, message: message)
    }
}

/// The server side of the opening handshake (RFC 6455 §4.2).
///
/// Accepted: `GET` on the WebSocket path (`/sub` by default; any query string), HTTP/1.1 or
/// later, an `Upgrade` header with the token `websocket` and a `Connection` header with the
/// token `upgrade` (both case-insensitive, in comma-separated lists, over repeated headers),
/// `Sec-WebSocket-Version: 13`, and a `Sec-WebSocket-Key` that is base64 for 16 bytes. Every
/// origin is accepted (as goim did); subprotocols and extensions are never negotiated, so the
/// answer names none and RSV bits stay unused.
///
/// Checks run in this order and the first failure decides the answer: path (404), method
/// (405), HTTP version (400), `Upgrade` and `Connection` (400), version (426, with
/// `Sec-WebSocket-Version: 13`), key (400).
public enum WebSocketHandshake {
    /// The GUID RFC 6455 appends to the key before hashing.
    public static let acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// The only protocol version spoken.
    public static let version = "13"

    /// The path goim serves WebSocket clients on.
    public static let defaultPath = "/sub"

    /// `Sec-WebSocket-Accept` for `key`: base64(SHA-1(key + GUID)).
    public static func acceptValue(forKey key: String) -> String {
        var digest = [UInt8](repeating: 0, count: Int(SHA_DIGEST_LENGTH))
        var input = key + acceptGUID
        input.withUTF8 { utf8 in
            _ = SHA1(utf8.baseAddress, utf8.count, &digest)
        }
        return Base64.encode(digest)
    }

    /// Checks a parsed upgrade request and returns the `101 Switching Protocols` response to
    /// write; the bytes after the request on the connection are WebSocket frames.
    ///
    /// - Throws: `WebSocketHandshakeError` (write its `responseBytes`, then close).
    public static func response(
        to parsed: HTTPParsedRequest, path: String = defaultPath
    ) throws -> [UInt8] {
        try response(
            to: parsed.request, httpVersion: (parsed.versionMajor, parsed.versionMinor),
            path: path)
    }

    /// Checks an upgrade request made with HTTP `httpVersion`; see `response(to:path:)`.
    ///
    /// - Throws: `WebSocketHandshakeError`.
    public static func response(
        to request: HTTPRequest, httpVersion: (major: Int, minor: Int) = (1, 1),
        path: String = defaultPath
    ) throws -> [UInt8] {
        guard request.path == path else {
            throw WebSocketHandshakeError(status: 404, message: "no WebSocket endpoint here")
        }
        guard request.method == "GET" else {
            throw WebSocketHandshakeError(status: 405, message: "WebSocket upgrade needs GET")
        }
        guard httpVersion.major > 1 || (httpVersion.major == 1 && httpVersion.minor >= 1) else {
            throw WebSocketHandshakeError.badRequest("WebSocket upgrade needs HTTP/1.1")
        }

        try checkUpgradeHeaders(request)
        let key = try validatedKey(request)
        return switchingProtocols(accept: acceptValue(forKey: key))
    }

    private static func checkUpgradeHeaders(_ request: HTTPRequest) throws {
        guard hasToken("websocket", inHeader: "Upgrade", of: request) else {
            throw WebSocketHandshakeError.badRequest("missing \"Upgrade: websocket\"")
        }
        guard hasToken("upgrade", inHeader: "Connection", of: request) else {
            throw WebSocketHandshakeError.badRequest("missing \"Connection: Upgrade\"")
        }
        guard request.header("Sec-WebSocket-Version").map(trimmed) == version else {
            throw WebSocketHandshakeError(
                status: 426, message: "only WebSocket version \(version) is supported")
        }
    }

    /// The trimmed `Sec-WebSocket-Key`, once checked to be base64 for 16 bytes.
    private static func validatedKey(_ request: HTTPRequest) throws -> String {
        guard let key = request.header("Sec-WebSocket-Key").map(trimmed),
            let decoded = Base64.decode(key), decoded.count == 16
        else {
            throw WebSocketHandshakeError.badRequest(
                "Sec-WebSocket-Key must be base64 for 16 bytes")
        }
        return key
    }

    private static func switchingProtocols(accept: String) -> [UInt8] {
        Array(
            ("HTTP/1.1 101 Switching Protocols\r\n" + "Upgrade: websocket\r\n"
                + "Connection: Upgrade\r\n" + "Sec-WebSocket-Accept: \(accept)\r\n\r\n").utf8)
    }

    /// Whether any `name` header holds `token` in its comma-separated list, ignoring case.
    static func hasToken(
        _ token: String, inHeader name: String, of request: HTTPRequest
    ) -> Bool {
        hasToken(token, in: request.headers.filter { $0.name.lowercased() == name.lowercased() })
    }

    static func hasToken(_ token: String, in headers: [(name: String, value: String)]) -> Bool {
        headers.contains { header in
            header.value.split(separator: ",").contains { trimmed($0).lowercased() == token }
        }
    }

    static func trimmed(_ text: some StringProtocol) -> String {
        var slice = Substring(text)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
