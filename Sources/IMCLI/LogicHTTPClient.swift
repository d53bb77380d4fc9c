import Foundation
import IMCore

/// A small blocking HTTP/1.1 client for logic's push API: one request per connection
/// (`Connection: close`), but the response is framed by `Content-Length` or chunked encoding,
/// so a keep-alive server that leaves the connection open works too. Every request has a
/// deadline (default 10 s) covering connect, send and receive.
public struct LogicHTTPClient: Sendable {
    /// A response: status and the complete (de-chunked) body.
    public struct Response: Sendable, Equatable {
        public var status: Int
        public var body: [UInt8]
    }

    /// Largest response body accepted; logic's answers are tiny, a count table is small.
    public static let maxResponseBody = 16 << 20

    public let host: String
    public let port: UInt16
    /// Path prefix from the base URL, without a trailing slash (usually empty).
    public let basePath: String
    public let timeout: Duration

    /// - Throws: a one-line reason when `baseURL` is not `http://HOST[:PORT][/PATH]`.
    public init(baseURL: String, timeout: Duration = .seconds(10)) throws(LogicURLError) {
        guard let components = URLComponents(string: baseURL), let scheme = components.scheme
        else { throw LogicURLError(reason: "not a URL") }
        guard scheme.lowercased() == "http" else {
            throw LogicURLError(reason: "only http:// URLs are supported")
        }
        guard let host = components.host, !host.isEmpty else {
            throw LogicURLError(reason: "the URL has no host")
        }
        guard components.port.map({ (1...65535).contains($0) }) ?? true else {
            throw LogicURLError(reason: "the port must be 1-65535")
        }
        guard components.query == nil, components.user == nil else {
            throw LogicURLError(reason: "the URL may not have a query or user")
        }

        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        self.port = UInt16(components.port ?? 80)
        self.basePath = components.percentEncodedPath.hasSuffix("/")
            ? String(components.percentEncodedPath.dropLast()) : components.percentEncodedPath
        self.timeout = timeout
    }

    /// Sends one request and waits for the whole response.
    ///
    /// - Parameters:
    ///   - path: the API path (`/1/push`), appended to the base URL's path.
    ///   - query: name/value pairs, percent-encoded here.
    ///   - stop: gives up with `SocketError("interrupted")` when it fires (Ctrl-C in the REPL).
    public func send(
        method: String, path: String, query: [(String, String)] = [], body: [UInt8] = [],
        contentType: String? = nil, stop: StopSignal? = nil
    ) throws(SocketError) -> Response {
        let deadline = ContinuousClock.now + timeout
        let socket = try ClientSocket.connect(
            host: host, port: port, deadline: deadline, stop: stop)
        let head = requestHead(method, path, query, bodyCount: body.count, contentType)
        do {
            try socket.send(Array(head.utf8) + body, deadline: deadline)
            return try receiveResponse(socket, deadline: deadline)
        } catch .timedOut {
            throw SocketError("no response from logic within \(timeout.shortDescription)")
        }
    }

    private func requestHead(
        _ method: String, _ path: String, _ query: [(String, String)], bodyCount: Int,
        _ contentType: String?
    ) -> String {
        var target = basePath + path
        if !query.isEmpty {
            target += "?" + query.map { "\(Self.encoded($0.0))=\(Self.encoded($0.1))" }
                .joined(separator: "&")
        }

        let hostHeader = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var lines = [
            "\(method) \(target) HTTP/1.1", "Host: \(hostHeader)", "User-Agent: imctl",
            "Accept: application/json", "Connection: close",
        ]
        if method != "GET" || bodyCount > 0 { lines.append("Content-Length: \(bodyCount)") }
        if let contentType { lines.append("Content-Type: \(contentType)") }
        return lines.joined(separator: "\r\n") + "\r\n\r\n"
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    private static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private func receiveResponse(_ socket: ClientSocket, deadline: ContinuousClock.Instant)
        throws(SocketError) -> Response
    {
        var parser = HTTPResponseParser(maxBody: Self.maxResponseBody)
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = try socket.receive(into: &chunk, deadline: deadline)
            if count > 0 { parser.append(chunk[..<count]) }
            if let response = try parser.response(atEndOfStream: count == 0) { return response }
            if count == 0 { throw SocketError("logic closed the connection before answering") }
        }
    }
}

/// Why a `--logic` URL cannot be used.
public struct LogicURLError: Error, Sendable, Equatable {
    public var reason: String
}

/// Finds one complete HTTP/1.1 response in the bytes received so far. Interim 1xx responses
/// are skipped. The body is framed by chunked encoding, `Content-Length`, or the end of the
/// stream, in that order of preference.
struct HTTPResponseParser {
    static let maxHeadSize = 64 * 1024

    let maxBody: Int
    private(set) var buffer: [UInt8] = []

    init(maxBody: Int) {
        self.maxBody = maxBody
    }

    mutating func append(_ bytes: ArraySlice<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The response once complete, nil while more bytes are needed.
    func response(atEndOfStream: Bool) throws(SocketError) -> LogicHTTPClient.Response? {
        var start = 0
        while true {
            guard let head = try Self.head(in: buffer, from: start) else { return nil }
            if (100..<200).contains(head.status) {
                start = head.bodyStart
                continue
            }
            return try body(after: head, atEndOfStream: atEndOfStream)
                .map { LogicHTTPClient.Response(status: head.status, body: $0) }
        }
    }

    struct Head {
        var status: Int
        var headers: [String: String]
        var bodyStart: Int
    }

    /// The status line and headers starting at `start`, once all of them have arrived.
    static func head(in buffer: [UInt8], from start: Int) throws(SocketError) -> Head? {
        let terminator: [UInt8] = Array("\r\n\r\n".utf8)
        let available = buffer[start...]
        guard let end = available.firstRange(of: terminator) else {
            guard available.count <= maxHeadSize else {
                throw SocketError("response head too large")
            }
            return nil
        }

        let text = String(decoding: buffer[start..<end.lowerBound], as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        let statusWords = lines[0].split(separator: " ", maxSplits: 2)
        guard statusWords.count >= 2, statusWords[0].hasPrefix("HTTP/1."),
            let status = Int(statusWords[1]), (100...999).contains(status)
        else { throw SocketError("malformed HTTP response from logic") }

        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Head(status: status, headers: headers, bodyStart: end.upperBound)
    }

    private func body(after head: Head, atEndOfStream: Bool) throws(SocketError) -> [UInt8]? {
        let received = buffer[head.bodyStart...]
        if head.status == 204 || head.status == 304 { return [] }

        if head.headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            return try Self.dechunked(received, maxBody: maxBody)
        }
        if let lengthText = head.headers["content-length"] {
            guard let length = Int(lengthText), length >= 0 else {
                throw SocketError("invalid Content-Length from logic")
            }
            guard length <= maxBody else { throw SocketError("response body too large") }
            return received.count >= length ? Array(received.prefix(length)) : nil
        }
        guard received.count <= maxBody else { throw SocketError("response body too large") }
        return atEndOfStream ? Array(received) : nil
    }

    /// The body of a complete chunked encoding, nil while the last chunk has not arrived.
    static func dechunked(_ bytes: ArraySlice<UInt8>, maxBody: Int) throws(SocketError)
        -> [UInt8]?
    {
        var body: [UInt8] = []
        var index = bytes.startIndex
        let lineEnd: [UInt8] = [13, 10]
        while true {
            guard let sizeEnd = bytes[index...].firstRange(of: lineEnd) else { return nil }
            let sizeText = String(decoding: bytes[index..<sizeEnd.lowerBound], as: UTF8.self)
            let hex = sizeText.split(separator: ";").first.map(String.init) ?? ""
            guard let size = Int(hex.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0
            else { throw SocketError("malformed chunked response from logic") }

            index = sizeEnd.upperBound
            if size == 0 { return body }  // trailers, if any, are not needed
            guard body.count + size <= maxBody else { throw SocketError("response body too large") }
            guard bytes.endIndex - index >= size + 2 else { return nil }

            body.append(contentsOf: bytes[index..<index + size])
            index += size + 2
        }
    }
}
