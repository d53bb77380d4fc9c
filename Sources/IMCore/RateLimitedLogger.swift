import Synchronization

/// Logs each kind of warning at most once per `interval`, so that a flood of drops or failing
/// calls cannot flood the log. The next line that gets through says how many were held back;
/// the held-back ones are logged at debug.
public final class RateLimitedLogger: Sendable {
    private let logger: Logger
    private let interval: Duration
    private let limiters = Mutex<[String: LogRateLimiter]>([:])

    public init(logger: Logger, interval: Duration = .seconds(10)) {
        self.logger = logger
        self.interval = interval
    }

    /// `event` is the constant message and also the key that is rate-limited: pass a fixed
    /// string, never one built from input, so the limiter table stays small.
    public func warning(_ event: String, _ metadata: @autoclosure () -> [String: String] = [:]) {
        guard logger.isEnabled(.warning) else { return }

        let now = ContinuousClock.now
        let admitted = limiters.withLock { limiters in
            limiters[event, default: LogRateLimiter()].admit(at: now, interval: interval)
        }
        guard let suppressed = admitted else {
            logger.debug(event, metadata())
            return
        }

        var details = metadata()
        if suppressed > 0 { details["suppressed"] = "\(suppressed)" }
        logger.warning(event, details)
    }
}

/// The decision behind `RateLimitedLogger`, kept apart so it can be tested without a clock.
public struct LogRateLimiter {
    private var lastLogged: ContinuousClock.Instant?
    private var suppressed = 0

    /// Returns the number of events held back since the last logged one if this one may be
    /// logged now, or nil if it must be held back.
    public init() {}

    public mutating func admit(at now: ContinuousClock.Instant, interval: Duration) -> Int? {
        if let lastLogged, now - lastLogged < interval {
            suppressed += 1
            return nil
        }

        defer { suppressed = 0 }
        lastLogged = now
        return suppressed
    }
}
