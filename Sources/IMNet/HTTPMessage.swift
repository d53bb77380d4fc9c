/// One parsed HTTP/1.1 request, as handed to an `HTTPHandler`.
public struct HTTPRequest: Sendable {
    /// Upper-case method name (`GET`, `POST`, ...).
    public var method: String
    /// The path of the request target, percent-decoded, without the query (`/1/push`).
    public var path: String
    /// Query items in order, percent-decoded (`+` is a space). A key may repeat.
    public var queryItems: [(name: String, value: String)]
    /// Header fields in order, names as sent.
    public var headers: [(name: String, value: String)]
    /// The whole body (Content-Length or de-chunked).
    public var body: [UInt8]

    public init(
        method: String, path: String, queryItems: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)] = [], body: [UInt8] = []
    ) {
        self.method = method
        self.path = path
        self.queryItems = queryItems
        self.headers = headers
        self.body = body
    }

    /// The first value of query item `name`, if present.
    public func query(_ name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }

    /// The first value of header `name`, compared case-insensitively (field names are ASCII
    /// tokens, so only ASCII letters fold; nothing is copied).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.equalsIgnoringASCIICase(name) }?.value
    }
}

/// A response to one request. The server adds `Content-Length`, `Date` is not sent, and
/// `Connection: close` is added when the connection is closing.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response (`Content-Type: application/json`).
    public static func json(status: Int = 200, _ text: String) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: [("Content-Type", "application/json")], body: Array(text.utf8))
    }

    /// A plain-text response (`Content-Type: text/plain; charset=utf-8`).
    public static func text(status: Int, _ text: String) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: [("Content-Type", "text/plain; charset=utf-8")],
            body: Array(text.utf8))
    }
}

/// Answers requests. Called on a task off the event loops; responses go back to the
/// connection in request order, so pipelined requests get pipelined answers.
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest) async -> HTTPResponse

    /// The response to `request` if it can be made right now on `loop`, the calling thread,
    /// else nil and the server calls `handle(_:)` on a task. Answering here saves the two
    /// thread hops of the task path, so it pays for cheap requests; an implementation must
    /// never wait in it (no blocking I/O, no lock held across slow work). Follow-up work that
    /// a batch of requests can share may go to `loop.runAtIterationEnd`. Default: nil.
    func respondImmediately(to request: HTTPRequest, on loop: EventLoop) -> HTTPResponse?
}

extension HTTPHandler {
    public func respondImmediately(
        to request: HTTPRequest, on loop: EventLoop
    ) -> HTTPResponse? { nil }
}

extension String {
    /// Whether the two are equal once ASCII letters are folded to lower case.
    func equalsIgnoringASCIICase(_ other: String) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        return zip(utf8, other.utf8).allSatisfy { Self.asciiLower($0) == Self.asciiLower($1) }
    }

    private static func asciiLower(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }
}
