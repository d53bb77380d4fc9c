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
        let fd = try Self.socketCall { () throws(BoundedSocketError) in
            try BoundedSocket.connect(
                host: host, port: port, timeout: timeout, receiveBufferSize: receiveBufferSize)
        }
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
        let deadline = TestDeadline(seconds: timeout)
        return state.withLock { state in
            guard state.fd >= 0 else { return false }
            return (try? BoundedSocket.sendAll(bytes, fd: state.fd, deadline: deadline)) != nil
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
        let deadline = TestDeadline(seconds: timeout ?? self.timeout)
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
        let deadline = TestDeadline(seconds: timeout ?? self.timeout)
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
        let deadline = TestDeadline(seconds: timeout ?? self.timeout)
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
        let deadline = TestDeadline(seconds: seconds)
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
    /// Reads what is available (waiting until the deadline for something) and decodes it.
    /// Returns false on timeout; true when bytes or EOF arrived.
    private static func receive(into state: inout State, deadline: TestDeadline) throws -> Bool {
        let fd = state.fd
        guard fd >= 0 else { throw ClientError.closed }

        let result = try socketCall { () throws(BoundedSocketError) in
            try BoundedSocket.read(fd: fd, deadline: deadline) { decode($0, into: &state) }
        }
        switch result {
        case .timedOut: return false
        case .progress: return true
        case .endOfStream:
            state.peerClosed = true
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

    /// `body`, its socket error as this client's.
    private static func socketCall<T>(_ body: () throws(BoundedSocketError) -> T)
        throws(ClientError) -> T
    {
        do {
            return try body()
        } catch {
            switch error {
            case .resolve(let host, let reason): throw .resolve(host: host, reason: reason)
            case .connect(let code): throw .connect(errno: code)
            case .timeout(let what): throw .timeout(what)
            case .io(let operation, let code): throw .io(operation: operation, errno: code)
            }
        }
    }
}
