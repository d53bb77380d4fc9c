import IMCore

/// Process-wide counters of the networking core.
public enum IMNetMetrics {
    /// Tasks given to `EventLoop.execute` after the loop shut down (they cannot run).
    public static let tasksDroppedAfterShutdown = Counter(
        "imctl_loop_tasks_dropped_total",
        help: "Tasks dropped because their event loop had shut down")

    /// Times a listener stopped accepting because the process was near its open-file limit.
    public static let acceptPausedAtFileLimit = Counter(
        "imctl_accept_paused_total", help: "Times accepting paused at the open-file limit")

    /// `accept4` failures other than "would block", per-connection errors and the file limit
    /// (the listener pauses after each).
    public static let acceptErrors = Counter(
        "imctl_accept_errors_total", help: "accept4 failures other than EAGAIN and the file limit")

    /// The process-wide networking metrics (these, the file limit and TLS), for a registry.
    public static var all: [any Metric] {
        [
            tasksDroppedAfterShutdown, acceptPausedAtFileLimit, acceptErrors,
            TLSMetrics.handshakesCompleted, TLSMetrics.handshakeFailures,
        ]
    }
}
