import Foundation
import IMCore
import Synchronization

@testable import IMCLI

/// Runs `imctl` in-process with injected streams.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var stdoutBytes: [UInt8]
}

func imctl(
    _ arguments: [String], environment: [String: String] = [:], stdin: [UInt8] = [],
    stdinIsTerminal: Bool = false, stop: StopSignal? = nil
) -> CLIResult {
    let out = CapturedOutput()
    let err = CapturedOutput()
    let status = IMCommandLine.run(
        arguments: arguments, environment: environment,
        stdin: BufferedInput(stdin, isTerminal: stdinIsTerminal), stdout: out, stderr: err,
        stop: stop ?? StopSignal())
    return CLIResult(status: status, stdout: out.text, stderr: err.text, stdoutBytes: out.data)
}

/// A listening socket on 127.0.0.1 with a free port, served by one thread that handles
/// `connections` connections one after the other and then stops. Every wait is bounded.
final class FakeServer: Sendable {
    let port: UInt16
    private let listener: Int32
    private let finished = DispatchSemaphore(value: 0)

    /// Bound on every wait inside the server thread.
    static let waitMilliseconds: Int32 = 5_000

    init(connections: Int = 1, serve: @escaping @Sendable (FakeConnection) -> Void) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && listen(fd, 8) == 0
                    && getsockname(fd, raw, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)

        let finished = self.finished
        Thread.detachNewThread {
            Self.acceptLoop(listener: fd, connections: connections, serve: serve)
            finished.signal()
        }
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        _ = finished.wait(timeout: .now() + 10)
        close(listener)
    }

    /// Waits (bounded) until the server thread has handled its connections.
    func waitUntilFinished() -> Bool {
        guard finished.wait(timeout: .now() + 10) == .success else { return false }
        finished.signal()  // for deinit's wait
        return true
    }

    private static func acceptLoop(
        listener: Int32, connections: Int, serve: @Sendable (FakeConnection) -> Void
    ) {
        for _ in 0..<connections {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, waitMilliseconds) > 0 else { return }

            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { return }
            serve(FakeConnection(fd: fd))
            close(fd)
        }
    }
}

/// The server side of one accepted connection, with bounded blocking reads.
struct FakeConnection: Sendable {
    let fd: Int32

    /// Reads up to `count` more bytes; nil at end of stream or after the wait bound.
    func read(upTo count: Int = 65536) -> [UInt8]? {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, FakeServer.waitMilliseconds) > 0 else { return nil }

        var buffer = [UInt8](repeating: 0, count: count)
        let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return received > 0 ? Array(buffer[..<received]) : nil
    }

    /// Reads exactly `count` bytes, or nil.
    func read(exactly count: Int) -> [UInt8]? {
        var bytes: [UInt8] = []
        while bytes.count < count {
            guard let more = read(upTo: count - bytes.count) else { return nil }
            bytes += more
        }
        return bytes
    }

    func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes {
                send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { return }
            offset += sent
        }
    }

    func write(_ text: String) {
        write(Array(text.utf8))
    }

    /// Reads one goim frame.
    func readFrame() -> Frame? {
        guard let header = read(exactly: 16) else { return nil }
        let packLen = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8
            | Int(header[3])
        guard packLen >= 16, let body = read(exactly: packLen - 16) else { return nil }

        var decoder = FrameDecoder(maxBodySize: 1 << 20)
        var frames: [Frame] = []
        try? (header + body).withUnsafeBytes { bytes in
            try decoder.decode(bytes) { frames.append($0) }
        }
        return frames.first
    }
}

/// Values collected on a server thread and read by the test.
final class Recorder<Value: Sendable>: Sendable {
    private let storage = Mutex<[Value]>([])

    func append(_ value: Value) {
        storage.withLock { $0.append(value) }
    }

    var values: [Value] { storage.withLock { $0 } }
}

/// One HTTP request as the fake logic saw it.
struct RecordedRequest: Sendable, Equatable {
    var method = ""
    var target = ""
    var headers: [String: String] = [:]
    var body: [UInt8] = []
}

/// A fake logic: records each request and answers with `respond`'s raw bytes. The connection
/// is left open after answering (like a keep-alive server) until the client closes it.
final class FakeLogic: Sendable {
    let server: FakeServer
    private let recorded = Recorder<RecordedRequest>()

    init(connections: Int = 1, respond: @escaping @Sendable (RecordedRequest) -> String) throws {
        let recorded = self.recorded
        server = try FakeServer(connections: connections) { connection in
            while let request = FakeLogic.readRequest(connection) {
                recorded.append(request)
                connection.write(respond(request))
            }
        }
    }

    var url: String { "http://127.0.0.1:\(server.port)" }

    var requests: [RecordedRequest] { recorded.values }

    /// A complete response with a Content-Length.
    static func response(_ body: String, status: String = "200 OK") -> String {
        "HTTP/1.1 \(status)\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    private static func readRequest(_ connection: FakeConnection) -> RecordedRequest? {
        var buffer: [UInt8] = []
        let terminator = Array("\r\n\r\n".utf8)
        while buffer.firstRange(of: terminator) == nil {
            guard let more = connection.read() else { return nil }
            buffer += more
        }

        let end = buffer.firstRange(of: terminator)!
        let lines = String(decoding: buffer[..<end.lowerBound], as: UTF8.self)
            .components(separatedBy: "\r\n")
        let requestLine = lines[0].split(separator: " ")
        var request = RecordedRequest(method: String(requestLine[0]), target: String(requestLine[1]))
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            request.headers[line[..<colon].lowercased()] =
                line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }

        let length = Int(request.headers["content-length"] ?? "0") ?? 0
        var body = Array(buffer[end.upperBound...])
        if body.count < length {
            guard let rest = connection.read(exactly: length - body.count) else { return nil }
            body += rest
        }
        request.body = body
        return request
    }
}
