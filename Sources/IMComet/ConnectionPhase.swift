import IMCore

/// Where a client connection is in its life. Pure decisions live here so they can be tested
/// without sockets; `CometConnection` carries them out.
///
/// ```
/// handshaking --op 7--> authenticating --logic ok--> active --any close--> closed
///      |                     |  logic refused / timeout          ^
///      +---------------------+-----------------------------------+
/// ```
enum ConnectionPhase: UInt8, Sendable {
    /// Accepted; waiting for the auth frame (handshake deadline armed).
    case handshaking
    /// The auth frame arrived; waiting for logic. Reading is paused.
    case authenticating
    /// Authenticated and registered: serves heartbeats, echoes and pushes.
    case active
    /// Closed; the socket is gone and later events are ignored.
    case closed

    /// What to do with a frame carrying `op` in this phase.
    func action(for op: Int32) -> FrameAction {
        switch self {
        case .handshaking:
            return op == Operation.auth ? .authenticate : .close(.notAuthenticated)
        case .authenticating:
            return .hold
        case .active:
            return FrameAction.active(op)
        case .closed:
            return .ignore
        }
    }

    /// Why the connection's deadline closes it in this phase.
    var deadlineReason: CloseReason {
        self == .active ? .heartbeatTimeout : .handshakeTimeout
    }
}

/// What a connection does with one received frame.
enum FrameAction: Equatable, Sendable {
    /// Ask logic about the token in the body.
    case authenticate
    /// Keep the frame until logic has answered (it arrived in the same read as the auth frame).
    case hold
    /// Reply op 3 and extend the heartbeat deadline.
    case heartbeat
    /// Reply op 5 with a copy of the body.
    case echo
    /// Reply op 255 with goim's test body.
    case test
    /// The connection is closed; drop the frame.
    case ignore
    /// Close the connection without a reply.
    case close(CloseReason)

    static func active(_ op: Int32) -> FrameAction {
        switch op {
        case Operation.heartbeat: return .heartbeat
        case Operation.sendMessage: return .echo
        case Operation.test: return .test
        default: return .close(.invalidOperation)
        }
    }
}

/// Why a connection closed. Each reason is counted (see `CometMetrics`).
enum CloseReason: Sendable, Equatable, CustomStringConvertible {
    case peerClosed
    case readError(Int32)
    case writeError(Int32)
    case malformedFrame
    case notAuthenticated
    case invalidOperation
    case authRefused
    case logicUnavailable
    case handshakeTimeout
    case heartbeatTimeout
    case outboundLimit
    case writeTimeout
    case duplicateKey
    case shutdown
    case loopStopped
    /// A WebSocket client broke a rule; closed with this code (1002, 1003, 1007, 1008, 1009).
    case webSocketError(UInt16)
    /// The WebSocket upgrade request was answered with this HTTP error status.
    case upgradeRefused(Int)
    /// The TLS handshake failed (garbage instead of a ClientHello, no shared protocol, ...).
    case tlsHandshakeFailed

    var description: String {
        switch self {
        case .peerClosed: return "closed by peer"
        case .readError(let code): return "read error \(code)"
        case .writeError(let code): return "write error \(code)"
        case .malformedFrame: return "malformed frame"
        case .notAuthenticated: return "first frame is not auth"
        case .invalidOperation: return "operation not served"
        case .authRefused: return "token refused"
        case .logicUnavailable: return "logic unavailable"
        case .handshakeTimeout: return "handshake timeout"
        case .heartbeatTimeout: return "heartbeat timeout"
        case .outboundLimit: return "outbound queue over limit"
        case .writeTimeout: return "write made no progress"
        case .duplicateKey: return "replaced by a newer connection with the same key"
        case .shutdown: return "comet shutting down"
        case .loopStopped: return "event loop stopped"
        case .webSocketError(let code): return "WebSocket error \(code)"
        case .upgradeRefused(let status): return "WebSocket upgrade refused with \(status)"
        case .tlsHandshakeFailed: return "TLS handshake failed"
        }
    }

    /// Whether logic must be told that the session ended. A connection replaced by a newer one
    /// with its key must not: the router's session for that key now belongs to the newer one.
    /// On shutdown `Comet.shutdown()` tells logic itself, and waits for it.
    var notifiesLogic: Bool {
        self != .duplicateKey && self != .shutdown
    }

    /// The counter this reason bumps, if any besides `connectionsClosed`.
    func counter(in metrics: CometMetrics) -> Counter? {
        switch self {
        case .peerClosed, .shutdown, .loopStopped: return nil
        case .readError, .writeError: return metrics.socketErrors
        case .malformedFrame, .notAuthenticated, .invalidOperation, .webSocketError,
            .upgradeRefused:
            return metrics.protocolErrors
        case .authRefused, .logicUnavailable: return metrics.authFailures
        case .handshakeTimeout: return metrics.handshakeTimeouts
        case .heartbeatTimeout: return metrics.heartbeatTimeouts
        case .outboundLimit, .writeTimeout: return metrics.slowClientDisconnects
        case .duplicateKey: return metrics.duplicateKeys
        case .tlsHandshakeFailed: return metrics.tlsHandshakeFailures
        }
    }
}
