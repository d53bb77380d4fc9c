import IMCore

/// Turns an `HTTPResponse` into the bytes of one HTTP/1.1 response, header and body in one
/// contiguous `ByteChunk`, so a response costs one `writev` entry and never waits on Nagle
/// or delayed ACK between its parts.
///
/// The writer owns the framing headers: `Content-Length` is always sent (except on 1xx and
/// 204, where it is forbidden), `Connection: close` when the connection is closing, and any
/// `Content-Length`, `Transfer-Encoding` or `Connection` the handler set is dropped. CR and
/// LF inside handler header names or values become spaces, so a value cannot split the
/// response.
public enum HTTPResponseWriter {
    /// `HTTP/1.1 100 Continue` with its empty header section.
    public static let continueResponse = ByteChunk(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))

    /// The reason phrase for `status` (`"Not Found"`), or a generic one for its class.
    public static func reasonPhrase(for status: Int) -> String {
        if let phrase = reasonPhrases[status] { return phrase }

        switch status {
        case 100..<200: return "Informational"
        case 200..<300: return "Success"
        case 300..<400: return "Redirection"
        case 400..<500: return "Client Error"
        default: return "Server Error"
        }
    }

    /// Serializes `response`. `closing` adds `Connection: close`; `announcesKeepAlive` adds
    /// `Connection: keep-alive` (what an HTTP/1.0 client needs to hear to reuse the
    /// connection); `omitBody` (a HEAD request) keeps `Content-Length` but sends no body.
    public static func serialize(
        _ response: HTTPResponse, closing: Bool = false, announcesKeepAlive: Bool = false,
        omitBody: Bool = false
    ) -> ByteChunk {
        let connection = closing ? "close" : announcesKeepAlive ? "keep-alive" : nil
        let head = header(for: response, connection: connection)
        let body = omitBody || !allowsBody(response.status) ? [] : response.body

        return ByteChunk(capacity: head.count + body.count) { buffer in
            buffer.copyBytes(from: head)
            UnsafeMutableRawBufferPointer(rebasing: buffer[head.count...]).copyBytes(from: body)
            return head.count + body.count
        }
    }

    /// The status line and header section, written as bytes: one array, no string building.
    private static func header(for response: HTTPResponse, connection: String?) -> [UInt8] {
        let status = (100...999).contains(response.status) ? response.status : 500
        var head: [UInt8] = []
        head.reserveCapacity(128)
        head.append(contentsOf: "HTTP/1.1 \(status) \(reasonPhrase(for: status))\r\n".utf8)

        for (name, value) in response.headers where !isFramingHeader(name) {
            appendHeader(name, value, to: &head)
        }
        if allowsBody(status) {
            appendHeader("Content-Length", "\(response.body.count)", to: &head)
        }
        if let connection { appendHeader("Connection", connection, to: &head) }
        head.append(contentsOf: lineEnd)
        return head
    }

    private static let lineEnd: [UInt8] = [UInt8(ascii: "\r"), UInt8(ascii: "\n")]

    /// `name: value` and a line end; CR and LF inside become spaces.
    private static func appendHeader(_ name: String, _ value: String, to head: inout [UInt8]) {
        appendSafe(name, to: &head)
        head.append(UInt8(ascii: ":"))
        head.append(UInt8(ascii: " "))
        appendSafe(value, to: &head)
        head.append(contentsOf: lineEnd)
    }

    private static func appendSafe(_ text: String, to head: inout [UInt8]) {
        let isBreak: (UInt8) -> Bool = { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }
        guard text.utf8.contains(where: isBreak) else {
            return head.append(contentsOf: text.utf8)
        }
        head.append(contentsOf: text.utf8.map { isBreak($0) ? UInt8(ascii: " ") : $0 })
    }

    private static func allowsBody(_ status: Int) -> Bool {
        status >= 200 && status != 204 && status != 304
    }

    private static func isFramingHeader(_ name: String) -> Bool {
        name.equalsIgnoringASCIICase("content-length")
            || name.equalsIgnoringASCIICase("transfer-encoding")
            || name.equalsIgnoringASCIICase("connection")
    }

    private static let reasonPhrases: [Int: String] = [
        100: "Continue", 101: "Switching Protocols",
        200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
        301: "Moved Permanently", 302: "Found", 304: "Not Modified",
        400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
        405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 411: "Length Required",
        413: "Content Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
        429: "Too Many Requests", 431: "Request Header Fields Too Large",
        500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
        503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
    ]
}

extension HTTPResponse {
    /// The error shape of the push API: `{"ret":65535,"msg":"<message>"}` with a real status.
    public static func failure(status: Int, _ message: String) -> HTTPResponse {
        .json(status: status, #"{"ret":65535,"msg":"# + jsonQuoted(message) + "}")
    }

    /// `text` as a JSON string literal, quotes included.
    static func jsonQuoted(_ text: String) -> String {
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            case let control where control.value < 0x20:
                let hex = String(control.value, radix: 16)
                quoted += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }
}
