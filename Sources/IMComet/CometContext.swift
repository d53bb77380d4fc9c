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
    let slowClientWarnings = RateLimitedWarning(intervalMillis: 10_000)
    let disconnectWarnings = RateLimitedWarning(intervalMillis: 10_000)
    let connectWarnings = RateLimitedWarning(intervalMillis: 10_000)

    /// Counts activations across loops, to tell which of two connections with one key is newer.
    private let activations = Atomic<UInt32>(0)

    init(configuration: CometConfiguration, logic: any LogicClient, logger: Logger) {
        self.configuration = configuration
        self.metrics = CometMetrics()
        self.logic = logic
        self.logger = logger
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
        connectWarnings.log("logic could not authenticate a client", ["error": "\(error)"], logger)
    }

    private func reportDisconnectFailure(_ key: SessionKey, _ error: any Error) {
        disconnectWarnings.log(
            "logic did not take a disconnect", ["conn.key": "\(key)", "error": "\(error)"], logger)
    }
}

/// Lets one warning through per interval, counting the ones held back. Any thread.
final class RateLimitedWarning: Sendable {
    private let intervalMillis: UInt64
    private let state = Mutex<(lastMillis: UInt64?, suppressed: Int)>((nil, 0))

    init(intervalMillis: UInt64) {
        self.intervalMillis = intervalMillis
    }

    /// Logs `message` as a warning (noting how many were held back) if one is due, else at
    /// debug.
    func log(_ message: String, _ metadata: [String: String], _ logger: Logger) {
        guard let suppressed = shouldWarn() else {
            logger.debug(message, metadata)
            return
        }
        var metadata = metadata
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
        logger.warning(message, metadata)
    }

    /// Nil while rate-limited; otherwise how many warnings were held back since the last one.
    func shouldWarn(nowMillis: UInt64 = System.monotonicMillis()) -> Int? {
        state.withLock { state in
            if let last = state.lastMillis, nowMillis &- last < intervalMillis {
                state.suppressed += 1
                return nil
            }
            let suppressed = state.suppressed
            state = (nowMillis, 0)
            return suppressed
        }
    }
}
