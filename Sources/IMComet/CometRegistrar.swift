import IMCore
import Synchronization

/// Keeps a comet registered with logic: registers once as a fresh process (so logic clears
/// sessions an earlier process with the same server id left behind), then refreshes every
/// `interval` so logic does not expire it. Logic drops a comet it has not heard from for its
/// `cometExpiry` (15 s by default, three refreshes).
public final class CometRegistrar: Sendable {
    private let comet: Comet
    private let registry: any CometRegistry
    private let rpcAddress: String
    private let interval: Duration
    private let logger = Logger(label: "comet")
    private let warnings = RateLimitedLogger(logger: Logger(label: "comet"))
    private let lastRegistered = Mutex<ContinuousClock.Instant?>(nil)

    /// Waits between failed first attempts: doubling from the first to the last.
    static let retryDelays: (first: Duration, last: Duration) = (.milliseconds(100), .seconds(1))

    /// - Parameter rpcAddress: "host:port" of this comet's RPC server, as job should dial it.
    public init(
        comet: Comet, registry: any CometRegistry, rpcAddress: String,
        interval: Duration = .seconds(5)
    ) {
        self.comet = comet
        self.registry = registry
        self.rpcAddress = rpcAddress
        self.interval = interval
    }

    /// The first registration, as a fresh process. Retries with a short backoff (each failure
    /// logged as a warning) until it succeeds or `timeout` passes; then throws the last error.
    /// Throws `CancellationError` when the task is cancelled.
    public func registerFirst(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var delay = Self.retryDelays.first
        while true {
            do {
                try await registry.register(registration(fresh: true))
                noteRegistered()
                logger.info("registered with logic", metadata)
                return
            } catch {
                try Task.checkCancellation()
                comet.metrics.registrationFailures.increment()
                guard ContinuousClock.now + delay < deadline else { throw error }
                logger.warning(
                    "registration with logic failed, retrying",
                    metadata.merging(["error": "\(error)"]) { $1 })
            }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, Self.retryDelays.last)
        }
    }

    /// Refreshes the registration every `interval` until the task is cancelled. A failed
    /// refresh is counted and logged (rate limited), never fatal: the next one may succeed.
    public func run() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            await refresh()
        }
    }

    private func refresh() async {
        do {
            try await registry.register(registration(fresh: false))
            noteRegistered()
        } catch {
            guard !Task.isCancelled else { return }
            comet.metrics.registrationFailures.increment()
            warnings.warning(
                "registration refresh failed", metadata.merging(["error": "\(error)"]) { $1 })
        }
    }

    /// Why job may not find this comet now, or nil: logic has taken a registration within
    /// the last three intervals (logic's default expiry).
    public var healthProblem: String? {
        guard let last = lastRegistered.withLock({ $0 }) else {
            return "not registered with logic yet"
        }
        let age = ContinuousClock.now - last
        guard age > interval * 3 else { return nil }
        let seconds = Duration.seconds(age.components.seconds)
        return "no registration with logic accepted for \(seconds.shortDescription)"
    }

    private func noteRegistered() {
        let now = ContinuousClock.now
        lastRegistered.withLock { $0 = now }
    }

    private func registration(fresh: Bool) -> CometRegistration {
        CometRegistration(
            server: comet.serverID, rpcAddress: rpcAddress, online: comet.connectionCount,
            fresh: fresh)
    }

    private var metadata: [String: String] {
        ["comet.id": "\(comet.serverID)", "rpc": rpcAddress]
    }
}
