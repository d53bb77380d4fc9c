import IMCore

/// What the logic role counts. One instance per `Logic`; read by the admin/metrics output.
public final class LogicMetrics: Sendable {
    /// Accepted `POST /1/push` requests.
    public let pushRequests = Counter("logic_pushes_push", help: "Accepted POST /1/push requests")
    /// Accepted `POST /1/pushs` requests.
    public let pushsRequests = Counter(
        "logic_pushes_pushs", help: "Accepted POST /1/pushs requests")
    /// Accepted `POST /1/push/all` requests.
    public let pushAllRequests = Counter(
        "logic_pushes_push_all", help: "Accepted POST /1/push/all requests")
    /// Accepted `POST /1/push/room` requests.
    public let pushRoomRequests = Counter(
        "logic_pushes_push_room", help: "Accepted POST /1/push/room requests")
    /// Dispatch messages the queue accepted.
    public let messagesPublished = Counter(
        "logic_messages_published", help: "Dispatch messages accepted by the queue")
    /// Dispatch messages the queue refused (full or unavailable); the caller got 503.
    public let publishFailures = Counter(
        "logic_publish_failures", help: "Dispatch messages the queue refused")
    /// Router calls that failed (connect, disconnect, lookups, counts, server deletion).
    public let routerErrors = Counter("logic_router_errors", help: "Failed router calls")
    /// Connections whose token the authenticator refused.
    public let authRefusals = Counter("logic_auth_refusals", help: "Tokens refused at connect")
    /// HTTP requests answered with a 4xx status (bad input, unknown path, wrong method).
    public let rejectedRequests = Counter(
        "logic_rejected_requests", help: "HTTP API requests refused with a 4xx status")
    /// Comet registrations accepted (first ones and refreshes).
    public let cometRegistrations = Counter(
        "logic_comet_registrations", help: "Comet registrations and refreshes accepted")
    /// Comets dropped because they stopped refreshing their registration.
    public let cometExpiries = Counter(
        "logic_comet_expiries", help: "Comets dropped for not refreshing in time")
    /// Sessions removed from the routers for an expired or restarted comet.
    public let cometSessionsRemoved = Counter(
        "logic_comet_sessions_removed", help: "Sessions removed for expired or restarted comets")

    public init() {}

    /// Every counter, for exporting.
    public var all: [Counter] {
        [
            pushRequests, pushsRequests, pushAllRequests, pushRoomRequests, messagesPublished,
            publishFailures, routerErrors, authRefusals, rejectedRequests, cometRegistrations,
            cometExpiries, cometSessionsRemoved,
        ]
    }
}
