import IMCore

/// A comet's counters, safe to read from any thread. Every closed connection is counted once
/// in `connectionsClosed` and, unless the client simply went away, once under its reason.
public final class CometMetrics: Sendable {
    /// Sockets accepted by the TCP listener.
    public let connectionsAccepted = Counter(
        "comet_connections_accepted_total", help: "TCP connections accepted")
    /// Connections closed for any reason.
    public let connectionsClosed = Counter(
        "comet_connections_closed_total", help: "connections closed, any reason")
    /// Authenticated connections open now.
    public let connections = Gauge(
        "comet_connections", help: "authenticated connections open")
    /// Tokens refused by logic, or logic unreachable during authentication.
    public let authFailures = Counter(
        "comet_auth_failures_total", help: "authentications refused or failed")
    /// Connections not authenticated within the handshake timeout.
    public let handshakeTimeouts = Counter(
        "comet_handshake_timeouts_total", help: "connections closed before authenticating in time")
    /// Authenticated connections that sent no heartbeat within the heartbeat timeout.
    public let heartbeatTimeouts = Counter(
        "comet_heartbeat_timeouts_total", help: "connections closed for a missing heartbeat")
    /// Malformed frames, a first frame other than auth, or an operation comet does not serve.
    public let protocolErrors = Counter(
        "comet_protocol_errors_total", help: "connections closed for a protocol violation")
    /// Clients disconnected because output piled up past the limit or made no progress.
    public let slowClientDisconnects = Counter(
        "comet_slow_client_disconnects_total", help: "clients disconnected as too slow to read")
    /// Socket read or write errors (reset by peer, broken pipe).
    public let socketErrors = Counter(
        "comet_socket_errors_total", help: "connections closed on a socket error")
    /// Older connections replaced by a newer one with the same key on the same loop.
    public let duplicateKeys = Counter(
        "comet_duplicate_keys_total", help: "connections replaced by a newer one with their key")
    /// Connections on a TLS listener whose TLS handshake failed.
    public let tlsHandshakeFailures = Counter(
        "comet_tls_handshake_failures_total", help: "connections closed by a failed TLS handshake")
    /// Frames received from clients.
    public let framesIn = Counter("comet_frames_in_total", help: "frames received from clients")
    /// Replies queued to clients (auth, heartbeat, echo, test).
    public let repliesOut = Counter("comet_replies_out_total", help: "reply frames queued")
    /// Push frames queued to clients: frames × receiving connections.
    public let deliveries = Counter(
        "comet_deliveries_total", help: "push frames queued to connections")
    /// Registrations with logic (first or refresh) that failed; the comet keeps trying.
    public let registrationFailures = Counter(
        "comet_registration_failures_total", help: "failed registrations with logic")

    public init() {}

    /// Every counter and gauge, for an exporter.
    public var all: [(name: String, help: String, value: Int)] {
        let counters = [
            connectionsAccepted, connectionsClosed, authFailures, handshakeTimeouts,
            heartbeatTimeouts, protocolErrors, slowClientDisconnects, socketErrors,
            duplicateKeys, tlsHandshakeFailures, framesIn, repliesOut, deliveries,
            registrationFailures,
        ]
        return counters.map { ($0.name, $0.help, $0.current) }
            + [(connections.name, connections.help, connections.current)]
    }
}
