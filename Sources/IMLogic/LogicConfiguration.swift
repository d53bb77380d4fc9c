/// Limits of the logic role's HTTP API and its comet table. Resolved once at start-up and
/// passed to `Logic`.
public struct LogicConfiguration: Sendable, Equatable {
    /// The most user ids one `POST /1/pushs` may name, counting repeats as sent. A longer list
    /// is refused with 413 so callers split it. Default 10,000. Zero or negative refuses every
    /// non-empty list.
    public var maxUsersPerPush: Int

    /// How deeply arrays and objects may nest in a `/1/pushs` body (the whole body, so the
    /// message `m` gets one level less). Deeper bodies are refused with 400. Default 512.
    public var maxJSONDepth: Int

    /// How long a registered comet stays without a refresh before logic drops it and removes
    /// its sessions from every router. Default 15 s (comets refresh every 5 s).
    public var cometExpiry: Duration

    public init(
        maxUsersPerPush: Int = 10_000, maxJSONDepth: Int = 512,
        cometExpiry: Duration = .seconds(15)
    ) {
        self.maxUsersPerPush = maxUsersPerPush
        self.maxJSONDepth = maxJSONDepth
        self.cometExpiry = cometExpiry
    }

    /// A copy with the given fields replaced.
    public func with(
        maxUsersPerPush: Int? = nil, maxJSONDepth: Int? = nil, cometExpiry: Duration? = nil
    ) -> Self {
        var copy = self
        if let maxUsersPerPush { copy.maxUsersPerPush = maxUsersPerPush }
        if let maxJSONDepth { copy.maxJSONDepth = maxJSONDepth }
        if let cometExpiry { copy.cometExpiry = cometExpiry }
        return copy
    }
}
