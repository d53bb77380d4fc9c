import Foundation
import Glibc
import IMNet

/// A blocking HTTP/1.1 client over a plain POSIX socket, for driving `HTTPServer` in tests.
/// Every receive times out (`SO_RCVTIMEO`), so a test never hangs on a silent server.
///
/// Blocking calls must not run on the Swift concurrency pool (it has as many threads as
/// cores and the server's handlers need it): wrap a client session in `onThread`.
///
/// `@unchecked Sendable`: a test hands a client from one thread to the next, never using it
/// from two at once.
final class HTTPTestClient: @unchecked Sendable {
    struct Response {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: [UInt8]

        var text: String { String(decoding: body, as: UTF8.self) }

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let fd: Int32
    private var buffered: [UInt8] = []

    /// Connects to 127.0.0.1:`port`; `receiveBuffer` shrinks the socket's receive buffer.
    init(port: Int, timeoutSeconds: Int = 5, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }

        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            Glibc.close(fd)
            throw Failure(description: "connect: errno \(errno)")
        }
    }

    deinit {
        Glibc.close(fd)
    }

    func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw Failure(description: "send: errno \(errno)") }
            offset += sent
        }
    }

    /// Half-closes: the server sees end of stream but can still answer.
    func shutdownWrite() {
        Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads one response (Content-Length framing; 1xx, 204 and 304 have no body, and
    /// neither has the answer to a HEAD request: pass `headOnly`).
    func readResponse(headOnly: Bool = false) throws -> Response {
        let headEnd = try readUntil(Array("\r\n\r\n".utf8))
        let head = String(decoding: buffered[..<headEnd], as: UTF8.self)
        buffered.removeFirst(headEnd + 4)

        var lines = head.components(separatedBy: "\r\n")
        let fields = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard fields.count >= 2, fields[0] == "HTTP/1.1", let status = Int(fields[1]) else {
            throw Failure(description: "bad status line in \(head)")
        }
        let headers = lines.map { line -> (name: String, value: String) in
            let parts = line.split(separator: ":", maxSplits: 1)
            let value = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
            return (String(parts[0]), value)
        }

        var response = Response(status: status, headers: headers, body: [])
        let length = headOnly ? 0 : Int(response.header("Content-Length") ?? "0") ?? 0
        try fill(atLeast: length)
        response.body = Array(buffered[..<length])
        buffered.removeFirst(length)
        return response
    }

    /// Whether the server closes the connection (EOF or reset) within the receive timeout;
    /// bytes that arrive first are discarded.
    func waitForClose() -> Bool {
        buffered = []
        var scratch = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
        }
    }

    private func readUntil(_ marker: [UInt8]) throws -> Int {
        while true {
            if let range = buffered.firstRange(of: marker) { return range.lowerBound }
            try receiveMore()
        }
    }

    private func fill(atLeast count: Int) throws {
        while buffered.count < count { try receiveMore() }
    }

    private func receiveMore() throws {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else {
            throw Failure(description: count == 0 ? "connection closed" : "recv: errno \(errno)")
        }
        buffered += chunk[..<count]
    }
}

/// Runs blocking `body` on a new thread and waits for it without tying up a pool thread.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// A handler made of a closure.
struct ClosureHandler: HTTPHandler {
    let body: @Sendable (HTTPRequest) async -> HTTPResponse

    init(_ body: @escaping @Sendable (HTTPRequest) async -> HTTPResponse) {
        self.body = body
    }

    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        await body(request)
    }
}

/// Runs `body` against a server on 127.0.0.1 (port 0) with two loops, then stops it all.
func withHTTPServer<T>(
    configuration: HTTPServer.Configuration = .init(), handler: any HTTPHandler,
    _ body: (HTTPServer, Int) async throws -> T
) async throws -> T {
    let group = try EventLoopGroup(loopCount: 2)
    group.start()
    let server = HTTPServer(group: group, configuration: configuration, handler: handler)
    defer {
        server.stop()
        group.shutdown()
    }

    let address = try server.start(host: "127.0.0.1", port: 0)
    return try await body(server, address.port)
}

/// Polls `condition` every 10 ms for up to `seconds`; whether it became true.
func eventually(seconds: Double = 5, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}
