import IMCore

/// The transport a client connection arrived on; the `proto` label of the connection metrics.
public enum CometProtocol: Int, Sendable, CaseIterable {
    case tcp, webSocket, tcpTLS, webSocketTLS

    init(webSocket: Bool, tls: Bool) {
        switch (webSocket, tls) {
        case (false, false): self = .tcp
        case (true, false): self = .webSocket
        case (false, true): self = .tcpTLS
        case (true, true): self = .webSocketTLS
        }
    }

    /// The label value: `tcp`, `ws`, `tcp-tls`, `wss`.
    public var label: String {
        switch self {
        case .tcp: "tcp"
        case .webSocket: "ws"
        case .tcpTLS: "tcp-tls"
        case .webSocketTLS: "wss"
        }
    }
}

/// A comet's counters, safe to read from any thread. Every closed connection is counted once
/// in `connectionsClosed` and, unless the client simply went away, once under its reason.
public final class CometMetrics: Sendable {
    /// Sockets accepted by the listeners, by protocol (index: `CometProtocol.rawValue`).
    public let connectionsAccepted: [Counter] = CometProtocol.allCases.map {
        Counter(
            "imctl_comet_connections_accepted_total",
            help: "client connections accepted, by listener protocol",
            labels: [MetricLabel("proto", $0.label)])
    }
    /// Authenticated connections open now, by protocol (index: `CometProtocol.rawValue`).
    public let connections: [Gauge] = CometProtocol.allCases.map {
        Gauge(
            "imctl_comet_connections", help: "authenticated client connections open, by protocol",
            labels: [MetricLabel("proto", $0.label)])
    }
    /// Connections closed for any reason.
    public let connectionsClosed = Counter(
        "imctl_comet_connections_closed_total", help: "client connections closed, any reason")
    /// Tokens refused by logic, or logic unreachable during authentication.
    public let authFailures = Counter(
        "imctl_comet_auth_failures_total", help: "authentications refused or failed")
    /// Connections not authenticated within the handshake timeout.
    public let handshakeTimeouts = Counter(
        "imctl_comet_handshake_timeouts_total",
        help: "connections closed before authenticating in time")
    /// Authenticated connections that sent no heartbeat within the heartbeat timeout.
    public let heartbeatTimeouts = Counter(
        "imctl_comet_heartbeat_timeouts_total", help: "connections closed for a missing heartbeat")
    /// Malformed frames, a first frame other than auth, or an operation comet does not serve.
    public let protocolErrors = Counter(
        "imctl_comet_protocol_errors_total", help: "connections closed for a protocol violation")
    /// Clients disconnected because output piled up past the limit or made no progress.
    public let slowClientDisconnects = Counter(
        "imctl_comet_slow_client_disconnects_total",
        help: "clients disconnected as too slow to read (their queued pushes are dropped)")
    /// Socket read or write errors (reset by peer, broken pipe).
    public let socketErrors = Counter(
        "imctl_comet_socket_errors_total", help: "connections closed on a socket error")
    /// Older connections replaced by a newer one with the same key on the same loop.
    public let duplicateKeys = Counter(
        "imctl_comet_duplicate_keys_total",
        help: "connections replaced by a newer one with their key")
    /// Connections on a TLS listener whose TLS handshake failed.
    public let tlsHandshakeFailures = Counter(
        "imctl_comet_tls_handshake_failures_total",
        help: "connections closed by a failed TLS handshake")
    /// Frames received from clients.
    public let framesIn = Counter(
        "imctl_comet_frames_in_total", help: "frames received from clients")
    /// Replies queued to clients (auth, heartbeat, echo, test).
    public let repliesOut = Counter(
        "imctl_comet_replies_out_total", help: "reply frames queued to clients")
    /// Push frames queued to clients: frames × receiving connections.
    public let deliveries = Counter(
        "imctl_comet_deliveries_total", help: "push frames queued to client connections")
    /// Pushes that waited because the loops were behind by the backlog limit.
    public let pushBacklogWaits = Counter(
        "imctl_comet_push_backlog_waits_total",
        help: "pushes that waited for the loops to catch up (backlog limit reached)")
    /// Registrations with logic (first or refresh) that failed; the comet keeps trying.
    public let registrationFailures = Counter(
        "imctl_comet_registration_failures_total", help: "failed registrations with logic")

    public init() {}

    /// The accepted-connection counter of `proto`.
    public func accepted(_ proto: CometProtocol) -> Counter { connectionsAccepted[proto.rawValue] }

    /// The open-connection gauge of `proto`.
    public func open(_ proto: CometProtocol) -> Gauge { connections[proto.rawValue] }

    /// Connections accepted on every listener.
    public var acceptedTotal: Int { connectionsAccepted.reduce(0) { $0 + $1.current } }

    /// Authenticated connections open now, every protocol.
    public var openTotal: Int { connections.reduce(0) { $0 + $1.current } }

    /// Every counter and gauge, for a registry.
    public var all: [any Metric] {
        let counters: [any Metric] = [
            connectionsClosed, authFailures, handshakeTimeouts, heartbeatTimeouts,
            protocolErrors, slowClientDisconnects, socketErrors, duplicateKeys,
            tlsHandshakeFailures, framesIn, repliesOut, deliveries, pushBacklogWaits,
            registrationFailures,
        ]
        return connectionsAccepted + connections + counters
    }
}
