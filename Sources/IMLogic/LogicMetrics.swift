import IMCore

/// The kinds of push goim's HTTP API takes; the `kind` label of the push metrics.
public enum PushKind: Int, Sendable, CaseIterable {
    /// `POST /1/push?uid=`
    case push
    /// `POST /1/pushs` (goim's "keys" push to a list of users)
    case pushs
    /// `POST /1/push/room`
    case room
    /// `POST /1/push/all`
    case all

    public var label: String {
        switch self {
        case .push: "push"
        case .pushs: "pushs"
        case .room: "room"
        case .all: "all"
        }
    }
}

/// What the logic role counts. One instance per `Logic`, registered in its `registry`.
public final class LogicMetrics: Sendable {
    /// Accepted push requests, by kind (index: `PushKind.rawValue`).
    public let pushes: [Counter] = PushKind.allCases.map {
        Counter(
            "imctl_logic_pushes_total", help: "push requests accepted, by kind",
            labels: [MetricLabel("kind", $0.label)])
    }
    /// Seconds from a push request's arrival to the queue accepting all its messages, for the
    /// requests answered `{"ret":1}`, by kind (index: `PushKind.rawValue`).
    public let pushLatencies: [Histogram] = PushKind.allCases.map {
        Histogram(
            "imctl_logic_push_seconds",
            help: "seconds from a push request's arrival to the queue accepting it, by kind",
            labels: [MetricLabel("kind", $0.label)])
    }
    /// Dispatch messages the queue accepted.
    public let messagesPublished = Counter(
        "imctl_logic_messages_published_total", help: "dispatch messages accepted by the queue")
    /// Dispatch messages the queue refused (full or unavailable); the caller got 503.
    public let publishFailures = Counter(
        "imctl_logic_publish_failures_total",
        help: "dispatch messages the queue refused (dropped, the caller got 503)")
    /// Router calls that failed (connect, disconnect, lookups, counts, server deletion).
    public let routerErrors = Counter(
        "imctl_logic_router_errors_total", help: "failed router calls")
    /// Connections whose token the authenticator refused.
    public let authRefusals = Counter(
        "imctl_logic_auth_refusals_total", help: "tokens refused at connect")
    /// HTTP requests answered with a 4xx status (bad input, unknown path, wrong method).
    public let rejectedRequests = Counter(
        "imctl_logic_rejected_requests_total", help: "HTTP API requests refused with a 4xx status")
    /// Comet registrations accepted (first ones and refreshes).
    public let cometRegistrations = Counter(
        "imctl_logic_comet_registrations_total", help: "comet registrations and refreshes accepted")
    /// Comets dropped because they stopped refreshing their registration.
    public let cometExpiries = Counter(
        "imctl_logic_comet_expiries_total", help: "comets dropped for not refreshing in time")
    /// Sessions removed from the routers for an expired or restarted comet.
    public let cometSessionsRemoved = Counter(
        "imctl_logic_comet_sessions_removed_total",
        help: "sessions removed for expired or restarted comets")

    public init() {}

    /// The accepted-request counter of `kind`.
    public func pushes(_ kind: PushKind) -> Counter { pushes[kind.rawValue] }

    /// The latency histogram of `kind`.
    public func pushLatency(_ kind: PushKind) -> Histogram { pushLatencies[kind.rawValue] }

    /// Every metric, for a registry.
    public var all: [any Metric] {
        let counters: [any Metric] = [
            messagesPublished, publishFailures, routerErrors, authRefusals, rejectedRequests,
            cometRegistrations, cometExpiries, cometSessionsRemoved,
        ]
        return pushes + counters + pushLatencies
    }
}
