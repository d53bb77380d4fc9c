import IMCore

/// How a comet treats its client connections. Every value has a goim-compatible default; pass
/// the resolved value to `Comet.init` (it is read once there).
public struct CometConfiguration: Sendable, Equatable {
    /// This comet's server id, recorded with every session in the router. Default 1.
    public var serverID: ServerID

    /// Time from accept until the client must be authenticated, including the wait for logic.
    /// Default 5 s (goim's `handshake.timeout`). Zero or negative closes a connection at the
    /// first timer tick.
    public var handshakeTimeout: Duration

    /// Time an authenticated connection may go without a heartbeat (op 2) before it is closed.
    /// As in goim, only op 2 extends it; other traffic does not. Default 300 s.
    public var heartbeatTimeout: Duration

    /// The largest frame body a client may send, in bytes; a larger one closes that
    /// connection without a reply. Default 4096. Pushes the comet sends are not limited.
    public var maxBodySize: Int

    /// The most bytes (replies and pushes) that may wait for one slow client. A delivery that
    /// would go past it disconnects the client as slow. Default 1 MiB.
    public var outboundLimit: Int

    /// How long queued output may make no progress (the client does not read) before the
    /// client is disconnected as slow. Default 10 s.
    public var writeTimeout: Duration

    /// The largest WebSocket message a client may send, in bytes, after joining its fragments;
    /// a larger one is refused with close code 1009 as soon as a frame header announces it,
    /// before it is buffered. Default 64 KiB (goim had no limit). A request's body must also
    /// fit `maxBodySize`, as on TCP.
    public var maxWebSocketMessageSize: Int

    /// The most pushes posted to each loop and not yet run there; a push past it waits (see
    /// `PushBacklog`). Default 128: while a loop is behind, the pushes posted since its last
    /// pass go out together, one write per client, so this also caps that batch.
    public var pushBacklogPerLoop: Int

    /// How long `Comet.shutdown()` waits for the loops to close connections, and then again for
    /// logic to acknowledge the disconnects. Default 3 s (goim's RPC timeout).
    public var shutdownTimeout: Duration

    public init(
        serverID: ServerID = 1,
        handshakeTimeout: Duration = .seconds(5),
        heartbeatTimeout: Duration = .seconds(300),
        maxBodySize: Int = 4096,
        outboundLimit: Int = 1 << 20,
        writeTimeout: Duration = .seconds(10),
        maxWebSocketMessageSize: Int = 64 * 1024,
        pushBacklogPerLoop: Int = 128,
        shutdownTimeout: Duration = .seconds(3)
    ) {
        self.serverID = serverID
        self.handshakeTimeout = handshakeTimeout
        self.heartbeatTimeout = heartbeatTimeout
        self.maxBodySize = maxBodySize
        self.outboundLimit = outboundLimit
        self.writeTimeout = writeTimeout
        self.maxWebSocketMessageSize = maxWebSocketMessageSize
        self.pushBacklogPerLoop = pushBacklogPerLoop
        self.shutdownTimeout = shutdownTimeout
    }

    /// A copy with `change` applied: `configuration.with { $0.maxBodySize = 1024 }`.
    public func with(_ change: (inout CometConfiguration) -> Void) -> CometConfiguration {
        var copy = self
        change(&copy)
        return copy
    }
}

extension Duration {
    /// Whole milliseconds, clamped to `0...Int32.max` (timer wheel delays).
    var clampedMilliseconds: Int {
        let (seconds, attoseconds) = components
        let millis = seconds.multipliedReportingOverflow(by: 1000)
        guard !millis.overflow else { return seconds < 0 ? 0 : Int(Int32.max) }

        let total = millis.partialValue + attoseconds / 1_000_000_000_000_000
        return Int(min(max(total, 0), Int64(Int32.max)))
    }
}
