import Glibc
import IMCore
import IMNet

/// What a WebSocket connection needs beyond a TCP one, allocated only for connections
/// accepted on the WebSocket listener (a TCP connection holds a nil reference: 8 bytes).
///
/// Life: `upgrading` (collecting the HTTP request head, at most `maxHeadSize` bytes) →
/// `open` (WebSocket frames, the goim mode fixed by the first data message). Loop-confined,
/// like its connection.
final class WebSocketTransport {
    /// The largest upgrade request head accepted (request line and headers).
    static let maxHeadSize = 8 * 1024

    /// Whether the 101 answer was sent: the bytes now are WebSocket frames.
    private(set) var isUpgraded = false
    /// The request head received so far; emptied once upgraded.
    private var head: [UInt8] = []
    var decoder: WebSocketDecoder
    /// Fixed by the first text or binary message; nil until then.
    var mode: GoimWebSocketMode?
    /// A close frame (or an HTTP error answer) was queued: the connection ends with a
    /// lingering close, so the peer reads it before the socket goes.
    var endsGracefully = false

    init(maxMessageSize: Int) {
        decoder = WebSocketDecoder(role: .server, maxMessageSize: maxMessageSize)
    }

    /// The wire format pushes take for this connection (binary until the mode is known; a
    /// connection is only active once its first message fixed the mode).
    var wireFormat: WireFormat {
        mode == .json ? .webSocketJSON : .webSocketBinary
    }

    /// What the upgrade step made of some input.
    enum UpgradeStep {
        /// The head is not complete yet; all input was kept.
        case needMoreBytes
        /// Send `response` (101); the input from `framesOffset` on is WebSocket frames.
        case upgraded(response: [UInt8], framesOffset: Int)
        /// Send the HTTP error, then close.
        case refused(WebSocketHandshakeError)
    }

    /// Collects request-head bytes from `input` and, once the head is complete, checks it.
    func upgrade(with input: UnsafeRawBufferPointer) -> UpgradeStep {
        let before = head.count
        head.append(contentsOf: input.prefix(Self.maxHeadSize + 4 - before))
        guard let length = head.withUnsafeBytes(WebSocketClientHandshake.responseHeadLength)
        else {
            guard head.count <= Self.maxHeadSize else {
                return .refused(.init(status: 400, message: "upgrade request head too large"))
            }
            return .needMoreBytes
        }
        guard length <= Self.maxHeadSize else {
            return .refused(.init(status: 400, message: "upgrade request head too large"))
        }

        let request = Array(head[..<length])
        head = []
        return check(request, framesOffset: length - before)
    }

    private func check(_ request: [UInt8], framesOffset: Int) -> UpgradeStep {
        let parser = HTTPRequestParser(limits: .init(maxBodySize: 0))
        guard case .request(let parsed)? = parser.parseAll(request).first else {
            return .refused(.init(status: 400, message: "malformed upgrade request"))
        }
        do {
            let response = try WebSocketHandshake.response(to: parsed)
            isUpgraded = true
            return .upgraded(response: response, framesOffset: framesOffset)
        } catch let error as WebSocketHandshakeError {
            return .refused(error)
        } catch {
            return .refused(.init(status: 400, message: "bad upgrade request"))
        }
    }

    /// The goim request in a data message, once its type matches the connection's mode (the
    /// first message fixes the mode).
    ///
    /// - Throws: `WebSocketError` (1003 for the other type, 1008/1009 for a bad request).
    func request(from event: WebSocketEvent, maxBodySize: Int) throws -> Frame? {
        let frame: Frame
        switch event {
        case .text(let message):
            try requireMode(.json)
            frame = try GoimWebSocket.request(fromText: message)
        case .binary(let message):
            try requireMode(.binary)
            frame = try GoimWebSocket.request(fromBinary: message, maxBodySize: maxBodySize)
        default:
            return nil
        }
        guard frame.body.count <= maxBodySize else {
            throw WebSocketError(
                closeCode: WebSocketCloseCode.messageTooBig,
                reason: "body over the \(maxBodySize)-byte limit")
        }
        return frame
    }

    private func requireMode(_ wanted: GoimWebSocketMode) throws {
        if mode == nil { mode = wanted }
        guard mode == wanted else {
            throw WebSocketError(
                closeCode: WebSocketCloseCode.unsupportedData,
                reason: wanted == .json
                    ? "text message on a binary connection" : "binary message on a JSON connection")
        }
    }
}

extension CloseReason {
    /// The close code a WebSocket client is sent when its connection closes for this reason,
    /// or nil when no close frame can or should be written (the socket is gone, the client
    /// stopped reading, or the code travels with the reason).
    var webSocketCloseCode: UInt16? {
        switch self {
        case .peerClosed, .readError, .writeError, .loopStopped, .outboundLimit, .writeTimeout,
            .webSocketError, .upgradeRefused, .tlsHandshakeFailed:
            return nil
        case .malformedFrame, .notAuthenticated, .invalidOperation, .authRefused,
            .handshakeTimeout, .heartbeatTimeout, .duplicateKey:
            return WebSocketCloseCode.policyViolation
        case .logicUnavailable:
            return WebSocketCloseCode.internalError
        case .shutdown:
            return WebSocketCloseCode.goingAway
        }
    }
}

/// The end of a connection that queued a last message (a WebSocket close frame, an HTTP
/// error): writes what is left, shuts the write side down, then reads and drops whatever the
/// peer still sends until it closes or `lingerMillis` pass, and only then closes the socket.
///
/// Closing at once would make the kernel answer unread input (a refused 8 MiB message, frames
/// sent after ours) with a reset, which can destroy the close frame before the peer reads it.
final class LingeringClose: TimerWheelEntry, FileHandler {
    /// Longest wait for the peer to close after our last message.
    static let lingerMillis = 2_000

    let fd: Int32
    private let loop: EventLoop
    private var outbound: OutboundQueue
    private var isFinished = false

    /// Takes over `fd` (already deregistered by its connection) and its pending output.
    init(fd: Int32, loop: EventLoop, outbound: OutboundQueue) {
        self.fd = fd
        self.loop = loop
        self.outbound = outbound
        super.init()
    }

    /// Starts lingering on the loop; the socket is closed within `lingerMillis`.
    func start() {
        do {
            try loop.register(self, events: [.readable])
        } catch {
            return finish(deregistering: false)
        }
        loop.timers.schedule(self, afterMillis: Self.lingerMillis)
        writeOutbound()
    }

    override func timerExpired() {
        finish()
    }

    func handleEvents(_ events: IOEvents) {
        if events.contains(.writable) { writeOutbound() }
        if !events.isDisjoint(with: [.readable, .hangup, .error]) { drain() }
    }

    func loopDidShutdown() {
        finish(deregistering: false)
    }

    private func writeOutbound() {
        guard !isFinished else { return }

        switch outbound.write(to: fd) {
        case .flushed:
            _ = shutdown(fd, Int32(SHUT_WR))
            loop.modify(self, events: [.readable])
        case .wouldBlock:
            loop.modify(self, events: [.readable, .writable])
        case .failed:
            finish()
        }
    }

    /// Reads and drops input; the peer closing (or an error) ends the linger.
    private func drain() {
        guard !isFinished else { return }

        for _ in 0..<4 {
            do {
                guard let count = try System.read(fd, into: loop.readBuffer) else { return }
                if count == 0 { return finish() }
            } catch {
                return finish()
            }
        }
    }

    private func finish(deregistering: Bool = true) {
        guard !isFinished else { return }

        isFinished = true
        loop.timers.cancel(self)
        if deregistering { loop.deregister(self) }
        System.close(fd)
        FileLimit.shared.release()
        outbound = OutboundQueue()
    }
}
