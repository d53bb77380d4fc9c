import Glibc
import IMCore
import IMNet

/// What a connection accepted on a TLS listener needs beyond a plain one, allocated only for
/// those connections (a plain connection holds a nil reference).
///
/// The session reads from and writes to the connection's socket itself (see `TLSSession`), so
/// the connection keeps its plain paths and only swaps the read and write calls: decrypted
/// bytes land in the loop's shared buffer and go through the same frame or WebSocket decoding.
///
/// OpenSSL may need the other readiness than the call suggests (a read that must write, a
/// write that must read, during a key update): `extraInterest` says which one to watch on top
/// of the connection's own. Loop-confined, like its connection.
final class CometTLSLayer {
    let session: TLSSession
    /// WebSocket state of a wss connection; nil for goim TCP over TLS.
    let webSocket: WebSocketTransport?
    /// The last read stopped until the socket is writable.
    private(set) var readWantsWrite = false
    /// The last write stopped until the socket is readable.
    private(set) var writeWantsRead = false

    init(session: TLSSession, webSocket: WebSocketTransport?) {
        self.session = session
        self.webSocket = webSocket
    }

    /// Readiness OpenSSL is waiting for, beyond what the connection watches on its own.
    var extraInterest: IOEvents {
        var events: IOEvents = []
        if readWantsWrite { events.insert(.writable) }
        if writeWantsRead { events.insert(.readable) }
        return events
    }

    /// Decrypted bytes wait inside the session, where epoll cannot see them.
    var hasBufferedInput: Bool { session.hasBufferedInput }

    /// How a `read(into:)` ended, in the connection's terms.
    enum ReadStep {
        /// This many decrypted bytes are at the start of the buffer.
        case bytes(Int)
        /// Nothing more for now; the loop reports the next readiness.
        case wouldBlock
        /// The peer closed (close_notify or end of stream).
        case closed
        /// The session is broken.
        case failed(TLSError)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadStep {
        switch session.read(into: buffer) {
        case .bytes(let count):
            readWantsWrite = false
            return .bytes(count)
        case .wantRead:
            readWantsWrite = false
            return .wouldBlock
        case .wantWrite:
            readWantsWrite = true
            return .wouldBlock
        case .closed:
            return .closed
        case .failed(let error):
            return .failed(error)
        }
    }

    /// Encrypts and writes what `queue` holds, as far as the socket takes. A broken session
    /// reads as a write error (EPIPE), counted like one on a plain socket.
    func write(_ queue: inout OutboundQueue) -> OutboundQueue.WriteResult {
        writeWantsRead = false
        switch queue.write(to: session) {
        case .flushed:
            return .flushed
        case .wantWrite:
            return .wouldBlock
        case .wantRead:
            writeWantsRead = true
            return .wouldBlock
        case .failed:
            return .failed(EPIPE)
        }
    }

    /// Best effort before the socket closes, never waiting: when `flushing`, one attempt to
    /// send what is queued (a last WebSocket close frame), then close_notify.
    func finish(flushing: Bool, _ queue: inout OutboundQueue) {
        guard session.isHandshakeComplete else { return }

        if flushing && !queue.isEmpty { _ = queue.write(to: session) }
        session.shutdown()
    }
}

/// A connection's optional layers in one reference-sized field (the cases' class references
/// share their spare bits), so that TLS support adds nothing to a plain TCP connection and
/// nothing beyond the layer objects to the others.
enum ConnectionLayers {
    case plain
    case webSocket(WebSocketTransport)
    /// TLS, carrying the WebSocket state too on a wss connection.
    case tls(CometTLSLayer)

    init(webSocket: WebSocketTransport?, tls: TLSSession?) {
        if let tls {
            self = .tls(CometTLSLayer(session: tls, webSocket: webSocket))
        } else if let webSocket {
            self = .webSocket(webSocket)
        } else {
            self = .plain
        }
    }

    var webSocket: WebSocketTransport? {
        switch self {
        case .plain: return nil
        case .webSocket(let webSocket): return webSocket
        case .tls(let tls): return tls.webSocket
        }
    }

    var tls: CometTLSLayer? {
        if case .tls(let tls) = self { return tls }
        return nil
    }
}
