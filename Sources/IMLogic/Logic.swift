import IMCore
import IMNet
import Synchronization

/// The logic role: authenticates connections for comets and records them on the user's router,
/// and serves goim's HTTP push API (`handle(_:)`), turning pushes into dispatch messages.
///
/// Sessions live on the routers and messages go to the queue; logic itself keeps only its
/// counters and the table of registered comets (`Logic+Comets.swift`), which comets rebuild
/// by refreshing after a logic restart.
public final class Logic: LogicClient, HTTPHandler {
    public let routers: RouterSet
    public let metrics = LogicMetrics()
    /// What `GET /metrics` serves: this logic's metrics, and whatever its owner adds.
    public let registry: MetricsRegistry
    /// When a router last answered (monotonic milliseconds; 0: never), for `/healthz`.
    let lastRouterAnswerMillis = Atomic<UInt64>(0)
    let publisher: any DispatchPublisher
    let authenticator: any Authenticator
    let configuration: LogicConfiguration
    /// The registered comets (`Logic+Comets.swift`).
    let cometTable = CometTable()
    let logger = Logger(label: "logic")
    /// Queue and router failures come one per request; a dead router must not flood the log.
    let warnings = RateLimitedLogger(logger: Logger(label: "logic"))
    /// Set when every router and the queue answer without waiting (`serve all`), so pushes
    /// are answered on the HTTP loop (`Logic+Immediate.swift`).
    let immediate: ImmediateBackends?

    /// - Parameters:
    ///   - routers: where sessions are recorded and looked up.
    ///   - publisher: the dispatch queue to job.
    ///   - authenticator: token → identity; default: goim's decimal tokens plus
    ///     `{"mid":..,"room":..}`.
    ///   - configuration: HTTP API limits and the comet expiry.
    ///   - registry: where this logic's metrics are registered and what `GET /metrics`
    ///     serves; default: a registry of its own.
    public init(
        routers: RouterSet, publisher: any DispatchPublisher,
        authenticator: any Authenticator = DefaultAuthenticator(),
        configuration: LogicConfiguration = .init(), registry: MetricsRegistry = .init()
    ) {
        self.registry = registry
        registry.register(metrics.all)
        self.routers = routers
        self.publisher = publisher
        self.authenticator = authenticator
        self.configuration = configuration
        immediate = ImmediateBackends(routers: routers, publisher: publisher)
    }

    /// Authenticates `token` and records the session on the user's router.
    /// Throws `ConnectError.refused` for a refused token (or one naming a negative user or
    /// room) and `ConnectError.unavailable` when the router fails.
    public func connect(server: ServerID, token: [UInt8]) async throws -> ConnectResult {
        guard let identity = authenticator.authenticate(token: token),
            identity.user >= 0, (identity.room ?? 0) >= 0
        else {
            metrics.authRefusals.increment()
            logger.debug("token refused", ["comet.id": "\(server)"])
            throw ConnectError.refused
        }

        let router = routers.router(for: identity.user)
        do {
            let seq = try await router.client.put(
                user: identity.user, server: server, room: identity.room)
            routerAnswered()
            return ConnectResult(
                key: SessionKey(user: identity.user, seq: seq), room: identity.room)
        } catch {
            throw routerFailure(router.name, error, during: "put")
        }
    }

    /// Removes the session from its user's router. Returns whether it existed; throws
    /// `ConnectError.unavailable` when the router fails.
    public func disconnect(server: ServerID, key: SessionKey) async throws -> Bool {
        let router = routers.router(for: key.user)
        do {
            let existed = try await router.client.delete(user: key.user, seq: key.seq)
            routerAnswered()
            return existed
        } catch {
            throw routerFailure(router.name, error, during: "delete")
        }
    }

    private func routerFailure(_ name: String, _ error: any Error, during call: String)
        -> ConnectError
    {
        metrics.routerErrors.increment()
        warnings.warning("router call failed", ["router": name, "call": call, "error": "\(error)"])
        return .unavailable("router \(name): \(error)")
    }
}
