import IMCore

/// Answers for the operations endpoints, shared by logic's HTTP API and `MetricsServer`.
extension HTTPResponse {
    /// `200` with the registry's metrics in the Prometheus text format (version 0.0.4).
    public static func metrics(_ registry: MetricsRegistry) -> HTTPResponse {
        HTTPResponse(
            status: 200, headers: [("Content-Type", PrometheusText.contentType)],
            body: Array(registry.exposition().utf8))
    }

    /// `200 ok` when `problem` is nil, else `503` with the problem on one line.
    public static func health(problem: String?) -> HTTPResponse {
        guard let problem else { return .text(status: 200, "ok\n") }
        let oneLine = problem.split(whereSeparator: \.isNewline).joined(separator: " ")
        return .text(status: 503, oneLine + "\n")
    }
}

/// A small HTTP server for the roles that have no HTTP API of their own (comet, router, job):
/// `GET /metrics` serves a registry, `GET /healthz` a health check; anything else is 404
/// (405 for another method on those paths). It runs on the role's event-loop group.
public final class MetricsServer: Sendable {
    /// Why the role cannot do its job now, or nil when it can. Should answer within a second
    /// or so; it runs on a task for each `/healthz` request.
    public typealias HealthCheck = @Sendable () async -> String?

    private let http: HTTPServer

    /// - Parameter health: default: always healthy (the process is up and serving).
    public init(
        group: EventLoopGroup, registry: MetricsRegistry,
        health: @escaping HealthCheck = { nil }
    ) {
        var router = HTTPRouter()
        router.get("/metrics") { _ in .metrics(registry) }
        router.get("/healthz") { _ in .health(problem: await health()) }
        http = HTTPServer(
            group: group,
            configuration: HTTPServer.Configuration(maxBodySize: 4096).with {
                $0.listenerName = "metrics"
            },
            handler: router)
    }

    /// The HTTP server's own counters (scrapes are requests too).
    public var metrics: HTTPServer.Metrics { http.metrics }

    /// Listens on `host:port` (port 0: the kernel picks one) and returns the bound address.
    /// Throws when the address cannot be bound, or when the server was started before.
    @discardableResult
    public func start(host: String, port: Int) throws -> SocketAddress {
        try http.start(host: host, port: port)
    }

    /// Stops listening and closes the open connections. Idempotent.
    public func stop() {
        http.stop()
    }
}
