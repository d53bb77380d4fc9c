import Foundation
import IMCore
import IMNet
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking goim WebSocket client for tests, built from IMNet's client codecs: opens the
/// connection, sends masked frames (well-formed or not), and reads the server's messages and
/// control frames with timeouts.
///
/// Every wait is bounded (`timeout`, default 5 s). Thread-safe; one blocking call at a time.
/// The socket is closed by `close()` or when the client is released.
public final class GoimWebSocketTestClient: Sendable {
    public enum ClientError: Error, Equatable, CustomStringConvertible {
        case connect(String)
        case timeout(String)
        case closedByPeer
        case refused(status: Int)
        case protocolError(String)
        case unexpected(String)

        public var description: String {
            switch self {
            case .connect(let reason): return "connect failed: \(reason)"
            case .timeout(let what): return "timed out waiting for \(what)"
            case .closedByPeer: return "the server closed the connection"
            case .refused(let status): return "the server refused the upgrade with \(status)"
            case .protocolError(let reason): return "bad data from the server: \(reason)"
            case .unexpected(let what): return "unexpected \(what)"
            }
        }
    }

    /// The default for every wait, in seconds.
    public static let defaultTimeout: TimeInterval = 5

    public let timeout: TimeInterval

    private struct State {
        var fd: Int32
        /// Bytes received before the upgrade answer was complete.
        var pending: [UInt8] = []
        var isUpgraded = false
        var decoder = WebSocketDecoder(role: .client, maxMessageSize: 64 << 20)
        var events: [WebSocketEvent] = []
        var peerClosed = false
        var decodeError: WebSocketError?
    }

    private let state: Mutex<State>

    /// Connects to `host:port` without sending anything (see `upgrade(path:)`).
    public init(host: String = "127.0.0.1", port: UInt16, timeout: TimeInterval = defaultTimeout)
        throws
    {
        self.timeout = timeout
        let fd = try Self.socketCall { () throws(BoundedSocketError) in
            try BoundedSocket.connect(host: host, port: port, timeout: timeout)
        }
        self.state = Mutex(State(fd: fd))
    }

    /// Connects and completes the opening handshake for `path` (default `/sub`).
    ///
    /// - Throws: `refused(status:)` when the server answers something other than 101.
    public static func open(
        host: String = "127.0.0.1", port: UInt16, path: String = "/sub",
        timeout: TimeInterval = defaultTimeout
    ) throws -> GoimWebSocketTestClient {
        let client = try GoimWebSocketTestClient(host: host, port: port, timeout: timeout)
        let (status, _) = try client.upgrade(path: path)
        guard status == 101 else { throw ClientError.refused(status: status) }
        return client
    }

    deinit {
        close()
    }

    // MARK: Handshake

    /// Sends a valid upgrade request for `path` and reads the answer's head; returns its
    /// status and text. A 101 is verified (accept key and all) before it is returned.
    public func upgrade(path: String = "/sub") throws -> (status: Int, head: String) {
        let url = try WebSocketURL("ws://127.0.0.1\(path)")
        let handshake = WebSocketClientHandshake(url: url)
        guard sendRaw(handshake.requestBytes) else { throw ClientError.closedByPeer }

        let head = try readHTTPHead()
        let text = String(decoding: head, as: UTF8.self)
        do {
            try handshake.verify(responseHead: head)
        } catch let error as WebSocketClientHandshakeError {
            if let status = error.status { return (status, text) }
            throw ClientError.protocolError(error.message)
        }
        state.withLock { $0.isUpgraded = true }
        decodePending()
        return (101, text)
    }

    /// Reads an HTTP response head (through its blank line), e.g. after `sendRaw` of a
    /// hand-made request. The bytes after it stay queued.
    public func readHTTPHead(timeout: TimeInterval? = nil) throws -> [UInt8] {
        let deadline = TestDeadline(seconds: timeout ?? self.timeout)
        return try state.withLock { state in
            while true {
                if let length = state.pending.withUnsafeBytes(
                    WebSocketClientHandshake.responseHeadLength)
                {
                    let head = Array(state.pending[..<length])
                    state.pending.removeFirst(length)
                    return head
                }
                if state.peerClosed { throw ClientError.closedByPeer }
                guard try Self.receive(into: &state, deadline: deadline) else {
                    throw ClientError.timeout("an HTTP response")
                }
            }
        }
    }

    private func decodePending() {
        state.withLock { state in
            let bytes = state.pending
            state.pending = []
            Self.decode(bytes, into: &state)
        }
    }

    // MARK: Sending

    /// Sends `bytes` as they are. False when they could not all be sent in time.
    @discardableResult
    public func sendRaw(_ bytes: [UInt8]) -> Bool {
        let deadline = TestDeadline(seconds: timeout)
        return state.withLock { state in
            guard state.fd >= 0 else { return false }
            return (try? BoundedSocket.sendAll(bytes, fd: state.fd, deadline: deadline)) != nil
        }
    }

    /// Sends one masked frame.
    @discardableResult
    public func send(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true) -> Bool {
        sendRaw(WebSocketEncoder.maskedFrame(opcode, payload: payload, fin: fin))
    }

    @discardableResult
    public func sendText(_ text: String) -> Bool {
        send(.text, Array(text.utf8))
    }

    /// Sends a goim frame in the TCP layout as one binary message.
    @discardableResult
    public func sendBinary(_ frame: Frame) -> Bool {
        send(.binary, frame.encoded)
    }

    /// JSON mode: sends `{"ver":1,"op":7,"seq":seq,"body":TOKEN}` (the token as raw JSON)
    /// and returns the frames of the answer, which must be one op 8.
    public func authenticateJSON(_ token: String, seq: Int32 = 1) throws -> Frame {
        sendText(#"{"ver":1,"op":7,"seq":\#(seq),"body":\#(token)}"#)
        let frames = try readJSONFrames()
        guard frames.count == 1, frames[0].op == Operation.authReply else {
            throw ClientError.unexpected("auth answer \(frames)")
        }
        return frames[0]
    }

    /// Binary mode: sends an auth frame with `token` as its body; returns the op 8 answer.
    public func authenticateBinary(_ token: String, seq: Int32 = 1) throws -> Frame {
        sendBinary(Frame(ver: 1, op: Operation.auth, seq: seq, body: Array(token.utf8)))
        guard let frame = try readBinaryFrame(), frame.op == Operation.authReply else {
            throw ClientError.unexpected("auth answer")
        }
        return frame
    }

    // MARK: Receiving

    /// The next message or control frame, or nil when none arrives in time.
    ///
    /// - Throws: `closedByPeer` once the server closed and everything it sent was read.
    public func readEvent(timeout: TimeInterval? = nil) throws -> WebSocketEvent? {
        let deadline = TestDeadline(seconds: timeout ?? self.timeout)
        return try state.withLock { state in
            while state.events.isEmpty {
                if let error = state.decodeError {
                    throw ClientError.protocolError(error.description)
                }
                if state.peerClosed { throw ClientError.closedByPeer }
                guard try Self.receive(into: &state, deadline: deadline) else { return nil }
            }
            return state.events.removeFirst()
        }
    }

    /// The next text message's text (nil on timeout); another event first is an error.
    public func readText(timeout: TimeInterval? = nil) throws -> String? {
        guard let event = try readEvent(timeout: timeout) else { return nil }
        guard case .text(let bytes) = event else { throw ClientError.unexpected("\(event)") }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The frames of the next text message, read as goim v1.2 JSON.
    public func readJSONFrames(timeout: TimeInterval? = nil) throws -> [Frame] {
        guard let text = try readText(timeout: timeout) else {
            throw ClientError.timeout("a text message")
        }
        do {
            return try GoimJSON.decodeServerMessage(Array(text.utf8))
        } catch {
            throw ClientError.protocolError("\(error)")
        }
    }

    /// The goim frame in the next binary message (nil on timeout).
    public func readBinaryFrame(timeout: TimeInterval? = nil) throws -> Frame? {
        guard let event = try readEvent(timeout: timeout) else { return nil }
        guard case .binary(let bytes) = event else { throw ClientError.unexpected("\(event)") }
        var decoder = FrameDecoder(maxBodySize: 64 << 20)
        var frames: [Frame] = []
        try bytes.withUnsafeBytes { try decoder.decode($0) { frames.append($0) } }
        guard frames.count == 1 else { throw ClientError.protocolError("\(frames.count) frames") }
        return frames[0]
    }

    /// The close frame's code the server sends within `seconds` (skipping other messages),
    /// or nil when none comes; `.some(nil)` for an empty close frame.
    public func closeCode(within seconds: TimeInterval = defaultTimeout) -> UInt16?? {
        let deadline = TestDeadline(seconds: seconds)
        while let event = try? readEvent(timeout: deadline.remainingSeconds) {
            if case .close(let code, _) = event { return .some(code) }
        }
        return nil
    }

    /// Whether the server closes the connection (EOF or reset) within `seconds`. What it sends
    /// meanwhile stays queued.
    public func isClosedByPeer(within seconds: TimeInterval = defaultTimeout) -> Bool {
        let deadline = TestDeadline(seconds: seconds)
        return state.withLock { state in
            while !state.peerClosed && state.fd >= 0 {
                guard (try? Self.receive(into: &state, deadline: deadline)) == true else { break }
            }
            return state.peerClosed
        }
    }

    /// Closes the socket; safe to call more than once.
    public func close() {
        state.withLock { state in
            guard state.fd >= 0 else { return }
            _ = Glibc.close(state.fd)
            state.fd = -1
        }
    }
}

// MARK: - Socket plumbing

extension GoimWebSocketTestClient {
    /// Reads what is available (waiting until the deadline); false on timeout.
    private static func receive(into state: inout State, deadline: TestDeadline) throws -> Bool {
        let fd = state.fd
        guard fd >= 0 else { throw ClientError.closedByPeer }

        let result = try socketCall { () throws(BoundedSocketError) in
            try BoundedSocket.read(fd: fd, deadline: deadline) { bytes in
                if state.isUpgraded { decode(Array(bytes), into: &state) } else {
                    state.pending += bytes
                }
            }
        }
        switch result {
        case .timedOut: return false
        case .progress: return true
        case .endOfStream:
            state.peerClosed = true
            return true
        }
    }

    private static func decode(_ bytes: [UInt8], into state: inout State) {
        guard state.decodeError == nil else { return }
        var events: [WebSocketEvent] = []
        do {
            try state.decoder.decode(bytes) { events.append($0) }
        } catch {
            state.decodeError = error as? WebSocketError
        }
        state.events += events
    }

    /// `body`, its socket error as this client's.
    private static func socketCall<T>(_ body: () throws(BoundedSocketError) -> T)
        throws(ClientError) -> T
    {
        do {
            return try body()
        } catch {
            switch error {
            case .resolve(let host, let reason): throw .connect("cannot resolve \(host): \(reason)")
            case .connect(let code): throw .connect(String(cString: strerror(code)))
            case .timeout(let what): throw .timeout(what)
            case .io(let operation, let code):
                throw .protocolError("\(operation): \(String(cString: strerror(code)))")
            }
        }
    }
}
