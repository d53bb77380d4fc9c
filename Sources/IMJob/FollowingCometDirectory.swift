import IMCore
import Synchronization

/// A `CometDirectory` that follows logic's comet list (long poll on `registry.comets`), opening
/// a client for each new comet and closing the client of one that left or moved to another
/// RPC address.
///
/// Logic answers a long poll as soon as its table changes, so a comet that registered is known
/// here one round trip later, and `allComets()` returns the comets known at the moment of the
/// call.
public final class FollowingCometDirectory: CometDirectory {
    public typealias Connector = @Sendable (CometMember) -> (
        client: any CometClient, close: @Sendable () -> Void
    )

    private struct Connected {
        var member: CometMember
        var client: any CometClient
        var close: @Sendable () -> Void
    }

    private struct State {
        var generation: UInt64 = 0
        var comets: [ServerID: Connected] = [:]
    }

    /// How long one poll may wait at logic.
    static let pollWait: Duration = .seconds(2)
    /// The pause after a failed poll.
    static let retryPause: Duration = .milliseconds(500)

    private let registry: any CometRegistry
    private let connect: Connector
    private let state = Mutex(State())
    /// Version 0 until the first list arrived, then 1.
    private let loaded = ChangeSignal(version: 0)
    private let logger = Logger(label: "job")
    private let warnings = RateLimitedLogger(logger: Logger(label: "job"))

    public init(registry: any CometRegistry, connect: @escaping Connector) {
        self.registry = registry
        self.connect = connect
    }

    public func comet(_ server: ServerID) -> (any CometClient)? {
        state.withLock { $0.comets[server]?.client }
    }

    /// Sorted by server id.
    public func allComets() -> [any CometClient] {
        state.withLock { state in
            state.comets.values.sorted { $0.member.server < $1.member.server }.map(\.client)
        }
    }

    /// The comets known now, sorted by server id.
    public var members: [CometMember] {
        state.withLock { $0.comets.values.map(\.member).sorted { $0.server < $1.server } }
    }

    /// Follows changes until the task is cancelled. A failed poll is logged (rate limited) and
    /// retried after a short pause. The clients stay open when this returns; see `close()`.
    /// Run it once per directory: lists are applied by one task at a time.
    public func run() async {
        while !Task.isCancelled {
            let generation = state.withLock { $0.generation }
            do {
                let list = try await registry.comets(after: generation, wait: Self.pollWait)
                apply(list)
            } catch {
                guard !Task.isCancelled else { return }
                warnings.warning("polling logic for comets failed", ["error": "\(error)"])
                try? await Task.sleep(for: Self.retryPause)
            }
        }
    }

    /// Waits until the first list arrived, or `timeout` passed; returns whether it arrived.
    public func waitUntilLoaded(timeout: Duration) async -> Bool {
        await loaded.wait(whileVersionIs: 0, timeout: timeout) != 0
    }

    /// Closes every client and forgets the comets.
    public func close() {
        let connected = state.withLock { state in
            defer { state.comets = [:] }
            return Array(state.comets.values)
        }
        connected.forEach { $0.close() }
    }

    /// Makes the known comets those of `list`: connects new ones, closes the clients of
    /// comets that left or moved. Only `run()` calls it, so lists are applied one at a time.
    func apply(_ list: CometList) {
        defer { loaded.set(1) }
        let wanted = Dictionary(list.comets.map { ($0.server, $0) }) { first, _ in first }
        let current = state.withLock { state in state.comets.mapValues(\.member) }
        guard wanted != current else {
            state.withLock { $0.generation = list.generation }
            return
        }

        let added = wanted.values.filter { current[$0.server] != $0 }
            .sorted { $0.server < $1.server }
            .map { member in
                let connection = connect(member)
                return Connected(member: member, client: connection.client, close: connection.close)
            }
        let stale = state.withLock { state -> [Connected] in
            state.generation = list.generation
            let stale = state.comets.values.filter { wanted[$0.member.server] != $0.member }
            for gone in stale { state.comets[gone.member.server] = nil }
            for connected in added { state.comets[connected.member.server] = connected }
            return stale
        }
        stale.forEach { $0.close() }
        log(added: added.map(\.member), removed: stale.map(\.member))
    }

    private func log(added: [CometMember], removed: [CometMember]) {
        for member in removed {
            logger.info(
                "comet removed", ["comet.id": "\(member.server)", "rpc": member.rpcAddress])
        }
        for member in added {
            logger.info("comet added", ["comet.id": "\(member.server)", "rpc": member.rpcAddress])
        }
    }
}
