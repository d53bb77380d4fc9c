import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A minimal blocking HTTP/1.1 client for tests: one request per connection
/// (`Connection: close`), response read to EOF. Independent of the server's own parser, so a
/// test sees exactly what went over the wire.
public struct HTTPTestClient: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: [UInt8]

        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public enum ClientError: Error {
        case connect(Int32)
        case timeout
        case malformedResponse(String)
    }

    public var address: HostPort
    public var timeout: TimeInterval

    public init(_ address: HostPort, timeout: TimeInterval = 10) {
        self.address = address
        self.timeout = timeout
    }

    public func post(_ target: String, body: [UInt8] = []) throws -> Response {
        try request("POST", target, body: body)
    }

    public func post(_ target: String, body: String) throws -> Response {
        try request("POST", target, body: Array(body.utf8))
    }

    public func get(_ target: String) throws -> Response {
        try request("GET", target)
    }

    public func request(_ method: String, _ target: String, body: [UInt8] = []) throws -> Response {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: \(address)\r\n"
        head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        let raw = try exchange(Array(head.utf8) + body)
        return try Self.parse(raw)
    }

    /// Sends `bytes` as they are and returns everything the server wrote until it closed.
    public func exchange(_ bytes: [UInt8]) throws -> [UInt8] {
        let fd = try TestSocket.connect(to: address, timeout: timeout)
        defer { close(fd) }

        try TestSocket.sendAll(fd, bytes)
        return try TestSocket.readToEnd(fd, timeout: timeout)
    }

    static func parse(_ raw: [UInt8]) throws -> Response {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let headEnd = raw.firstRange(of: separator) else {
            throw ClientError.malformedResponse(String(decoding: raw, as: UTF8.self))
        }
        let lines = String(decoding: raw[..<headEnd.lowerBound], as: UTF8.self)
            .components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw ClientError.malformedResponse(lines[0])
        }

        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[line[..<colon].lowercased()] = value
        }
        return Response(status: status, headers: headers, body: Array(raw[headEnd.upperBound...]))
    }
}

/// Blocking socket helpers shared by the test clients.
public enum TestSocket {
    public static func connect(to address: HostPort, timeout: TimeInterval) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HTTPTestClient.ClientError.connect(errno) }

        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = address.port.bigEndian
        inet_pton(AF_INET, address.host == "0.0.0.0" ? "127.0.0.1" : address.host, &addr.sin_addr)
        let result = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            close(fd)
            throw HTTPTestClient.ClientError.connect(code)
        }
        return fd
    }

    public static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes {
                send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw HTTPTestClient.ClientError.connect(errno) }
            sent += n
        }
    }

    /// Reads until the peer closes, failing after `timeout` seconds without any byte.
    public static func readToEnd(_ fd: Int32, timeout: TimeInterval) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(timeout * 1000))
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { throw HTTPTestClient.ClientError.timeout }

            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return result }
            result += chunk[0..<n]
        }
    }
}
