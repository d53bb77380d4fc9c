import CLinux
import Glibc
import IMCore
import IMNet
import Synchronization

/// An `RPCHandler` made of a closure.
struct RPCClosureHandler: RPCHandler {
    let body: @Sendable (Int32, [UInt8]) async throws -> [UInt8]

    init(_ body: @escaping @Sendable (Int32, [UInt8]) async throws -> [UInt8]) {
        self.body = body
    }

    func handle(method: Int32, payload: [UInt8]) async throws -> [UInt8] {
        try await body(method, payload)
    }
}

/// A handler error with a recognisable description.
struct RPCTestFailure: Error, CustomStringConvertible {
    let description: String
}

/// A one-shot barrier: `wait()` suspends until `open()`, or returns at once after it.
final class RPCGate: Sendable {
    private let state = Mutex<(isOpen: Bool, waiters: [CheckedContinuation<Void, Never>])>(
        (false, []))
    private let waitingCount = Atomic<Int>(0)

    /// Tasks that have called `wait()` (and so reached the gate).
    var arrivals: Int { waitingCount.load(ordering: .relaxed) }

    func wait() async {
        waitingCount.wrappingAdd(1, ordering: .relaxed)
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.isOpen { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }
}

enum RPCTestSupport {
    /// Test calls never wait longer than this unless a test says otherwise.
    static let callTimeout: Duration = .seconds(5)

    /// Runs `body` with a started two-loop group, shut down afterwards.
    static func withGroup<T>(_ body: (EventLoopGroup) async throws -> T) async throws -> T {
        let group = try EventLoopGroup(loopCount: 2)
        group.start()
        defer { group.shutdown() }
        return try await body(group)
    }

    /// Runs `body` with a server for `handler` on 127.0.0.1 port 0 and a client of it.
    static func withServerAndClient<T>(
        server configuration: RPCServer.Configuration = .init(maxPayloadSize: 1 << 20),
        client clientConfiguration: RPCClient.Configuration = .init(callTimeout: callTimeout),
        handler: any RPCHandler,
        _ body: (RPCServer, RPCClient) async throws -> T
    ) async throws -> T {
        try await withGroup { group in
            let server = RPCServer(group: group, configuration: configuration, handler: handler)
            let address = try server.start(host: "127.0.0.1", port: 0)
            let client = RPCClient(
                address: address, group: group, configuration: clientConfiguration)

            do {
                let result = try await body(server, client)
                client.close()
                await server.stop()
                return result
            } catch {
                client.close()
                await server.stop()
                throw error
            }
        }
    }

    /// Echoes payloads; method 2 throws, method 3 returns `method` and payload size.
    static let echoHandler = RPCClosureHandler { method, payload in
        switch method {
        case 2: throw RPCTestFailure(description: "refused: \(payload.count) bytes")
        default: return payload
        }
    }

    /// The call's error, or nil if it succeeded.
    static func error(of body: () async throws -> Void) async -> (any Error)? {
        do {
            try await body()
            return nil
        } catch {
            return error
        }
    }

    /// Polls `condition` every 10 ms until it holds or `timeout` passes; whether it held.
    static func eventually(
        timeout: Duration = .seconds(10), _ condition: () async -> Bool
    ) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return await condition()
    }

    /// One frame as the RPC writes it.
    static func frame(ver: Int16, op: Int32, seq: Int32, body: [UInt8] = []) -> [UInt8] {
        Frame(ver: ver, op: op, seq: seq, body: body).encoded
    }

    /// Reads one frame from `fd` within 5 s. Polls without blocking: a blocked thread of the
    /// small cooperative pool could starve the very handler task the test waits for.
    static func readFrame(_ fd: Int32) async throws -> Frame {
        let header = try await readExactly(fd, count: Frame.headerSize)
        let packLen = header[0..<4].reduce(0) { $0 << 8 | Int($1) }
        let body = try await readExactly(fd, count: packLen - Frame.headerSize)

        var frames: [Frame] = []
        var decoder = FrameDecoder(maxBodySize: 1 << 20)
        try (header + body).withUnsafeBytes { bytes in
            try decoder.decode(bytes) { frames.append($0) }
        }
        return frames[0]
    }

    /// Whether the peer closes `fd` (end of stream or a reset) within 5 s; bytes that arrive
    /// first are skipped.
    static func peerClosed(_ fd: Int32) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count == 0 || (count < 0 && errno == ECONNRESET) { return true }
            if count < 0 { try? await Task.sleep(for: .milliseconds(5)) }
        }
        return false
    }

    private static func readExactly(_ fd: Int32, count: Int) async throws -> [UInt8] {
        let deadline = ContinuousClock.now + .seconds(5)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: max(count, 1))
        while bytes.count < count {
            let received = recv(fd, &buffer, count - bytes.count, Int32(MSG_DONTWAIT))
            if received > 0 {
                bytes += buffer[0..<received]
            } else if received == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                throw SystemError.last("recv")
            } else if ContinuousClock.now >= deadline {
                throw SystemError(call: "recv (5 s deadline)", errno: ETIMEDOUT)
            } else {
                try await Task.sleep(for: .milliseconds(2))
            }
        }
        return bytes
    }
}
