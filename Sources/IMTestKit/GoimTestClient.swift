import Foundation
import IMCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking goim TCP client for tests: sends frames, reads frames with timeouts, and tells
/// whether the server closed the connection.
///
/// Every wait is bounded (`timeout`, default `defaultTimeout` seconds, generous for a busy
/// machine). Frames that arrive while waiting for something else are kept, in order, for the
/// next read. Thread-safe, but calls are serialized: one blocking call at a time per client.
/// The socket is closed by `close()` or when the client is released.
public final class GoimTestClient: Sendable {
    public enum ClientError: Error, Equatable, CustomStringConvertible {
        case resolve(host: String, reason: String)
        case connect(errno: Int32)
        case timeout(String)
        case closedByPeer
        case io(operation: String, errno: Int32)
        case malformedFrame(FrameError)
        case unexpectedFrame(Frame)
        case closed

        public var description: String {
            switch self {
            case .resolve(let host, let reason): return "cannot resolve \(host): \(reason)"
            case .connect(let code): return "connect failed: \(String(cString: strerror(code)))"
            case .timeout(let what): return "timed out waiting for \(what)"
            case .closedByPeer: return "the server closed the connection"
            case .io(let operation, let code):
                return "\(operation) failed: \(String(cString: strerror(code)))"
            case .malformedFrame(let error): return "server sent a malformed frame: \(error)"
            case .unexpectedFrame(let frame):
                return "unexpected frame op \(frame.op) seq \(frame.seq)"
            case .closed: return "the client was closed"
            }
        }
    }

    /// The default for every wait, in seconds.
    public static let defaultTimeout: TimeInterval = 5

    /// Largest frame body accepted from the server (pushes have no protocol limit).
    public static let maxBodySize = 64 << 20

    /// The wait used when a call is given no timeout, in seconds.
    public let timeout: TimeInterval

    private struct State {
        var fd: Int32
        var decoder = FrameDecoder(maxBodySize: GoimTestClient.maxBodySize)
        var received: [Frame] = []
        var peerClosed = false
        var decodeError: FrameError?
    }

    private let state: Mutex<State>

    /// Connects to `host:port` (a name or an IPv4/IPv6 literal; `0.0.0.0` means loopback).
    ///
    /// - Parameter receiveBufferSize: sets `SO_RCVBUF` before connecting, so a test that then
    ///   stops reading makes the server's writes back up quickly (slow-client tests).
    public init(
        host: String = "127.0.0.1", port: UInt16, timeout: TimeInterval = defaultTimeout,
        receiveBufferSize: Int? = nil
    ) throws {
        self.timeout = timeout
        let fd = try Self.connect(
            host: host == "0.0.0.0" ? "127.0.0.1" : host, port: port,
            timeout: timeout, receiveBufferSize: receiveBufferSize)
        self.state = Mutex(State(fd: fd))
    }

    /// Connects to `address`; see `init(host:port:timeout:receiveBufferSize:)`.
    public convenience init(
        _ address: HostPort, timeout: TimeInterval = defaultTimeout, receiveBufferSize: Int? = nil
    ) throws {
        try self.init(
            host: address.host, port: address.port, timeout: timeout,
            receiveBufferSize: receiveBufferSize)
    }

    deinit {
        close()
    }

    // MARK: Sending

    /// Sends one encoded frame. Returns false when it could not be sent in full (the server
    /// closed or reset the connection, the client was closed, or the socket stayed full for
    /// `timeout`); a test that expects that asks `isClosedByPeer(within:)`.
    @discardableResult
    public func send(_ frame: Frame) -> Bool {
        sendRaw(frame.encoded)
    }

    /// Sends `bytes` as they are (partial or malformed frames included); see `send(_:)`.
    @discardableResult
    public func sendRaw(_ bytes: [UInt8]) -> Bool {
        let deadline = Deadline(seconds: timeout)
        return state.withLock { state in
            guard state.fd >= 0 else { return false }
            return (try? Self.sendAll(bytes, fd: state.fd, deadline: deadline)) != nil
        }
    }

    /// Sends an auth frame (ver 1, op 7, `seq`, body = token) and returns the server's answer,
    /// which must be op 8.
    ///
    /// - Throws: `closedByPeer` when the server refused the token by closing, `timeout`, or
    ///   `unexpectedFrame` when the first frame back is not op 8.
    public func authenticate(
        token: String, seq: Int32 = 1, timeout: TimeInterval? = nil
    ) throws -> Frame {
        try authenticate(token: Array(token.utf8), seq: seq, timeout: timeout)
    }

    /// `authenticate(token:)` with the token as raw bytes.
    public func authenticate(
        token: [UInt8], seq: Int32 = 1, timeout: TimeInterval? = nil
    ) throws -> Frame {
        send(Frame(ver: 1, op: Operation.auth, seq: seq, body: token))
        guard let reply = try readFrame(timeout: timeout) else {
            throw ClientError.timeout("the auth reply")
        }
        guard reply.op == Operation.authReply else { throw ClientError.unexpectedFrame(reply) }
        return reply
    }

    // MARK: Receiving

    /// The next frame, or nil when none arrives within `timeout` (default: the client's).
    ///
    /// - Throws: `closedByPeer` once the server has closed and every frame it sent was read;
    ///   `malformedFrame` when the server sent bytes that are not goim frames.
    public func readFrame(timeout: TimeInterval? = nil) throws -> Frame? {
        let deadline = Deadline(seconds: timeout ?? self.timeout)
        return try state.withLock { state in
            while state.received.isEmpty {
                if let error = state.decodeError { throw ClientError.malformedFrame(error) }
                if state.peerClosed { throw ClientError.closedByPeer }
                guard try Self.receive(into: &state, deadline: deadline) else { return nil }
            }
            return state.received.removeFirst()
        }
    }

    /// Up to `count` frames received before `timeout` (one deadline for all of them); fewer
    /// when the deadline passes or the server closes the connection first.
    public func readFrames(count: Int, timeout: TimeInterval? = nil) throws -> [Frame] {
        let deadline = Deadline(seconds: timeout ?? self.timeout)
        var frames: [Frame] = []
        while frames.count < count {
            do {
                guard let frame = try readFrame(timeout: deadline.remainingSeconds) else { break }
                frames.append(frame)
            } catch ClientError.closedByPeer {
                break
            }
        }
        return frames
    }

    /// The first frame with op `op` within `timeout`, leaving any other frames queued for
    /// later reads; nil on timeout.
    public func waitForFrame(op: Int32, timeout: TimeInterval? = nil) throws -> Frame? {
        let deadline = Deadline(seconds: timeout ?? self.timeout)
        return try state.withLock { state in
            while true {
                if let index = state.received.firstIndex(where: { $0.op == op }) {
                    return state.received.remove(at: index)
                }
                if let error = state.decodeError { throw ClientError.malformedFrame(error) }
                if state.peerClosed { throw ClientError.closedByPeer }
                guard try Self.receive(into: &state, deadline: deadline) else { return nil }
            }
        }
    }

    /// Whether the server closes the connection (EOF or reset) within `within` seconds
    /// (default `defaultTimeout`). Anything it sends meanwhile is kept for later reads.
    public func isClosedByPeer(within seconds: TimeInterval = defaultTimeout) -> Bool {
        let deadline = Deadline(seconds: seconds)
        return state.withLock { state in
            while !state.peerClosed && state.fd >= 0 {
                guard (try? Self.receive(into: &state, deadline: deadline)) == true else { break }
            }
            return state.peerClosed
        }
    }

    /// Closes the socket; later sends fail and reads throw `closed`. Safe to call more than once.
    public func close() {
        state.withLock { state in
            guard state.fd >= 0 else { return }
            _ = Glibc.close(state.fd)
            state.fd = -1
        }
    }
}

// MARK: - Socket plumbing

extension GoimTestClient {
    /// A point in time for a bounded wait.
    private struct Deadline {
        let end: ContinuousClock.Instant

        init(seconds: TimeInterval) {
            end = .now + .milliseconds(Int64(max(seconds, 0) * 1000))
        }

        var remainingSeconds: TimeInterval {
            let left = ContinuousClock.now.duration(to: end)
            return max(
                Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18, 0)
        }

        var remainingMilliseconds: Int32 {
            Int32(min(remainingSeconds * 1000, Double(Int32.max)).rounded(.up))
        }
    }

    /// Waits for `events` on `fd` until the deadline; false on timeout.
    private static func waitFor(_ events: Int32, fd: Int32, deadline: Deadline) throws -> Bool {
        while true {
            var request = pollfd(fd: fd, events: Int16(events), revents: 0)
            let ready = poll(&request, 1, deadline.remainingMilliseconds)
            if ready > 0 { return true }
            if ready == 0 { return false }
            guard errno == EINTR else { throw ClientError.io(operation: "poll", errno: errno) }
        }
    }

    /// Reads what is available (waiting until the deadline for something) and decodes it.
    /// Returns false on timeout; true when bytes or EOF arrived.
    private static func receive(into state: inout State, deadline: Deadline) throws -> Bool {
        guard state.fd >= 0 else { throw ClientError.closed }
        guard try waitFor(Int32(POLLIN), fd: state.fd, deadline: deadline) else { return false }

        return try withUnsafeTemporaryAllocation(byteCount: 64 << 10, alignment: 1) { buffer in
            let count = recv(state.fd, buffer.baseAddress, buffer.count, 0)
            if count > 0 {
                decode(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), into: &state)
                return true
            }
            if count == 0 || errno == ECONNRESET {
                state.peerClosed = true
                return true
            }
            guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else {
                throw ClientError.io(operation: "recv", errno: errno)
            }
            return true
        }
    }

    private static func decode(_ bytes: UnsafeRawBufferPointer, into state: inout State) {
        guard state.decodeError == nil else { return }
        do {
            try state.decoder.decode(bytes) { state.received.append($0) }
        } catch {
            state.decodeError = error as? FrameError ?? .decoderFailed
        }
    }

    private static func sendAll(_ bytes: [UInt8], fd: Int32, deadline: Deadline) throws {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if count > 0 {
                sent += count
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                guard try waitFor(Int32(POLLOUT), fd: fd, deadline: deadline) else {
                    throw ClientError.timeout("the socket to accept more data")
                }
            } else if errno != EINTR {
                throw ClientError.io(operation: "send", errno: errno)
            }
        }
    }

    /// A connected non-blocking socket to the first address of `host` that answers.
    private static func connect(
        host: String, port: UInt16, timeout: TimeInterval, receiveBufferSize: Int?
    ) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw ClientError.resolve(host: host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }

        let deadline = Deadline(seconds: timeout)
        var lastError = ClientError.connect(errno: ECONNREFUSED)
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            do {
                return try connect(
                    to: info.pointee, deadline: deadline, receiveBufferSize: receiveBufferSize)
            } catch let error as ClientError {
                lastError = error
            }
            candidate = info.pointee.ai_next
        }
        throw lastError
    }

    private static func connect(
        to info: addrinfo, deadline: Deadline, receiveBufferSize: Int?
    ) throws -> Int32 {
        let type =
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
            | Int32(SOCK_CLOEXEC.rawValue)
        let fd = socket(info.ai_family, type, 0)
        guard fd >= 0 else { throw ClientError.io(operation: "socket", errno: errno) }

        do {
            try configure(fd, receiveBufferSize: receiveBufferSize)
            try finishConnect(fd, to: info, deadline: deadline)
            return fd
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    private static func configure(_ fd: Int32, receiveBufferSize: Int?) throws {
        var noDelay: Int32 = 1
        _ = setsockopt(
            fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))

        guard let receiveBufferSize else { return }
        var size = Int32(clamping: receiveBufferSize)
        guard setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) == 0
        else {
            throw ClientError.io(operation: "setsockopt(SO_RCVBUF)", errno: errno)
        }
    }

    private static func finishConnect(_ fd: Int32, to info: addrinfo, deadline: Deadline) throws {
        if Glibc.connect(fd, info.ai_addr, info.ai_addrlen) == 0 { return }
        guard errno == EINPROGRESS || errno == EINTR else {
            throw ClientError.connect(errno: errno)
        }

        guard try waitFor(Int32(POLLOUT), fd: fd, deadline: deadline) else {
            throw ClientError.timeout("the connection to be accepted")
        }
        var failure: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length)
        guard failure == 0 else { throw ClientError.connect(errno: failure) }
    }
}
