import IMCore
import IMNet
import Synchronization

/// What every loop and connection of one comet shares: settings (pre-converted for the timer
/// wheel), counters and the logic client. Immutable, so any thread may read it.
final class CometContext: Sendable {
    let configuration: CometConfiguration
    let metrics: CometMetrics
    let logic: any LogicClient
    let logger: Logger

    let handshakeMillis: UInt64
    let heartbeatMillis: UInt64
    let writeTimeoutMillis: UInt64
    let outboundLimit: Int

    /// Warnings an operator should see, but not once per connection.
    let warnings: RateLimitedLogger

    /// Counts activations across loops, to tell which of two connections with one key is newer.
    private let activations = Atomic<UInt32>(0)

    init(configuration: CometConfiguration, logic: any LogicClient, logger: Logger) {
        self.configuration = configuration
        self.metrics = CometMetrics()
        self.logic = logic
        self.logger = logger
        self.warnings = RateLimitedLogger(logger: logger)
        handshakeMillis = UInt64(configuration.handshakeTimeout.clampedMilliseconds)
        heartbeatMillis = UInt64(configuration.heartbeatTimeout.clampedMilliseconds)
        writeTimeoutMillis = UInt64(configuration.writeTimeout.clampedMilliseconds)
        outboundLimit = max(configuration.outboundLimit, 0)
    }

    var serverID: ServerID { configuration.serverID }

    /// The next activation's order number (wraps; compared with `wasActivated(before:)`).
    func nextActivationOrder() -> UInt32 {
        activations.wrappingAdd(1, ordering: .relaxed).newValue
    }

    /// Tells logic, in the background, that the session `key` ended. Failures are logged (a
    /// rate-limited warning, the rest at debug): the router keeps the session until logic's
    /// own clean-up removes it.
    func notifyDisconnect(_ key: SessionKey) {
        Task { [self] in
            do {
                let existed = try await logic.disconnect(server: serverID, key: key)
                if !existed {
                    logger.debug("disconnect of an unknown session", ["conn.key": "\(key)"])
                }
            } catch {
                reportDisconnectFailure(key, error)
            }
        }
    }

    /// Logic could not authenticate a client for a reason other than a refused token (the
    /// client is closed).
    func reportConnectFailure(_ error: any Error) {
        warnings.warning("logic could not authenticate a client", ["error": "\(error)"])
    }

    private func reportDisconnectFailure(_ key: SessionKey, _ error: any Error) {
        warnings.warning(
            "logic did not take a disconnect", ["conn.key": "\(key)", "error": "\(error)"])
    }
}
