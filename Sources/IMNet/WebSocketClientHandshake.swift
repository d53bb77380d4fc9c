import IMCore

/// Why a client could not open a WebSocket: a bad URL, or a server answer that is not a valid
/// `101 Switching Protocols` for our key.
public struct WebSocketClientHandshakeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// The HTTP status the server answered, when it answered something readable.
    public var status: Int?

    public init(_ message: String, status: Int? = nil) {
        self.message = message
        self.status = status
    }

    public var description: String { message }
}

/// A `ws://` or `wss://` URL, split into what a client connects to and what it asks for.
public struct WebSocketURL: Sendable, Equatable {
    /// `wss://`: the connection must be TLS.
    public var isSecure: Bool
    /// The host name or address, without the brackets of an IPv6 literal.
    public var host: String
    /// The port; 80 (`ws`) or 443 (`wss`) when the URL has none.
    public var port: Int
    /// The path and query sent in the request line (`/sub?x=1`); `/` when the URL has none.
    /// The fragment is dropped.
    public var requestTarget: String

    /// Parses `text`: scheme `ws` or `wss` (any case), a host (IPv6 in brackets), an optional
    /// port 1–65535, then an optional path and query. User information is refused.
    ///
    /// - Throws: `WebSocketClientHandshakeError`.
    public init(_ text: String) throws {
        guard let schemeEnd = text.firstRange(of: "://") else {
            throw Self.invalid(text, "no scheme")
        }
        switch text[..<schemeEnd.lowerBound].lowercased() {
        case "ws": isSecure = false
        case "wss": isSecure = true
        default: throw Self.invalid(text, "the scheme must be ws or wss")
        }

        let rest = text[schemeEnd.upperBound...].prefix { $0 != "#" }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        (host, port) = try Self.hostAndPort(rest[..<authorityEnd], secure: isSecure, url: text)

        let target = rest[authorityEnd...]
        requestTarget = target.first == "?" ? "/" + target : target.isEmpty ? "/" : String(target)
        guard requestTarget.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F })
        else { throw Self.invalid(text, "the path has spaces or control characters") }
    }

    /// The `Host` header value: the host (bracketed if IPv6), plus `:port` unless default.
    public var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (isSecure ? 443 : 80) ? name : "\(name):\(port)"
    }

    private static func hostAndPort(
        _ authority: Substring, secure: Bool, url: String
    ) throws -> (String, Int) {
        guard !authority.contains("@") else { throw invalid(url, "user information is refused") }

        var host = authority
        var portText: Substring?
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else {
                throw invalid(url, "unterminated IPv6 address")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.first == ":" else { throw invalid(url, "bad host") }
            portText = after.isEmpty ? nil : after.dropFirst()
        } else if let colon = authority.firstIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        }

        guard !host.isEmpty else { throw invalid(url, "no host") }
        guard let portText else { return (String(host), secure ? 443 : 80) }
        guard let port = Int(portText), (1...65535).contains(port), portText.first != "+" else {
            throw invalid(url, "bad port")
        }
        return (String(host), port)
    }

    private static func invalid(_ url: String, _ reason: String) -> WebSocketClientHandshakeError {
        WebSocketClientHandshakeError("invalid WebSocket URL \"\(url)\": \(reason)")
    }
}

/// The client side of the opening handshake (RFC 6455 §4.1): the upgrade request to send,
/// and the check of the server's answer.
public struct WebSocketClientHandshake: Sendable {
    /// The longest response head `verify` is expected to see; a client should give up on a
    /// server that sends more without finishing the head.
    public static let maxResponseHeadSize = 16 * 1024

    public let url: WebSocketURL
    /// The `Sec-WebSocket-Key` sent: base64 of 16 bytes.
    public let key: String

    /// - Parameter keyBytes: the 16 key bytes; random by default (tests pass fixed ones).
    /// - Precondition: `keyBytes.count == 16`.
    public init(url: WebSocketURL, keyBytes: [UInt8] = (0..<16).map { _ in .random(in: 0...255) }) {
        precondition(keyBytes.count == 16, "a WebSocket key is 16 bytes")
        self.url = url
        self.key = Base64.encode(keyBytes)
    }

    /// The GET request asking to upgrade (no subprotocol, no extension, no origin).
    public var requestBytes: [UInt8] {
        let head =
            "GET \(url.requestTarget) HTTP/1.1\r\n" + "Host: \(url.hostHeader)\r\n"
            + "Upgrade: websocket\r\n" + "Connection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\n"
            + "Sec-WebSocket-Version: \(WebSocketHandshake.version)\r\n\r\n"
        return Array(head.utf8)
    }

    /// The length of the response head at the start of `bytes`, through its blank line
    /// (`\r\n\r\n`), or nil while it is incomplete. The bytes after it are WebSocket frames.
    public static func responseHeadLength(in bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for end in 4...bytes.count
        where bytes[end - 4] == 0x0D && bytes[end - 3] == 0x0A && bytes[end - 2] == 0x0D
            && bytes[end - 1] == 0x0A
        {
            return end
        }
        return nil
    }

    /// Checks the server's response head: status 101, `Upgrade: websocket`,
    /// `Connection: Upgrade`, the right `Sec-WebSocket-Accept`, and no extension or
    /// subprotocol (none was offered).
    ///
    /// - Throws: `WebSocketClientHandshakeError` (with the status when the server refused).
    public func verify(responseHead: [UInt8]) throws {
        let lines = String(decoding: responseHead, as: UTF8.self)
            .split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let status = try Self.status(of: lines[0])
        guard status == 101 else {
            throw WebSocketClientHandshakeError(
                "the server refused the upgrade: \(lines[0])", status: status)
        }

        let headers = lines.dropFirst().compactMap(Self.header)
        try checkHeaders(headers)
    }

    private func checkHeaders(_ headers: [(name: String, value: String)]) throws {
        func values(_ name: String) -> [(name: String, value: String)] {
            headers.filter { $0.name.lowercased() == name.lowercased() }
        }
        guard WebSocketHandshake.hasToken("websocket", in: values("Upgrade")) else {
            throw WebSocketClientHandshakeError("the server did not answer Upgrade: websocket")
        }
        guard WebSocketHandshake.hasToken("upgrade", in: values("Connection")) else {
            throw WebSocketClientHandshakeError("the server did not answer Connection: Upgrade")
        }
        let expected = WebSocketHandshake.acceptValue(forKey: key)
        guard values("Sec-WebSocket-Accept").map(\.value) == [expected] else {
            throw WebSocketClientHandshakeError("the server's Sec-WebSocket-Accept is wrong")
        }
        guard values("Sec-WebSocket-Extensions").isEmpty, values("Sec-WebSocket-Protocol").isEmpty
        else {
            throw WebSocketClientHandshakeError(
                "the server chose an extension or subprotocol that was not offered")
        }
    }

    private static func status(of statusLine: String) throws -> Int {
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw WebSocketClientHandshakeError(
                "the server's answer is not HTTP: \(statusLine.prefix(80))")
        }
        return status
    }

    private static func header(_ line: String) -> (name: String, value: String)? {
        guard let colon = line.firstIndex(of: ":") else { return nil }
        return (
            String(line[..<colon]), WebSocketHandshake.trimmed(line[line.index(after: colon)...])
        )
    }
}
