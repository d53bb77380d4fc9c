import IMCore
import Synchronization

/// The session table of the router role: user → seq → (comet server, room), with the number of
/// online sessions per room and per comet server.
///
/// Users are spread over `shardCount` shards by their id (any `Int64`, negative ones included),
/// each behind its own lock, so calls for different users rarely wait for each other. Every
/// call does its work synchronously under one shard's lock; the `async` signatures only satisfy
/// `RouterClient`, whose other implementations are remote (`sessionsNow` is the lookup
/// without them, for logic's answers on the HTTP loop).
///
/// Sequence numbers: a user's first session gets seq 1 and each further session the next one.
/// Unlike goim, seqs do not start again at 1 after a user's sessions are all gone: the router
/// remembers the last seq of up to `retiredUsersPerShard` such users per shard, and when it
/// forgets them it raises a per-shard floor above all their seqs, so users it no longer knows
/// start after that floor. A key (`user_seq`) is therefore never handed out twice by one router
/// process until a shard has issued 2³¹ seqs, which keeps a stale connection on a comet (say,
/// after `deleteServer` on a comet that is still up) from sharing its key with a new one. The
/// price: after the floor has risen, a returning user's first seq may be larger than 1.
public final class Router: ImmediateRouterClient {
    public static let defaultShardCount = 16
    public static let defaultRetiredUsersPerShard = 4096

    private let shards: [ShardBox]

    /// - Parameters:
    ///   - shardCount: lock shards (default 16); values below 1 mean 1.
    ///   - retiredUsersPerShard: users without sessions whose last seq is kept per shard
    ///     (default 4096); values below 1 mean 1.
    public init(
        shardCount: Int = Router.defaultShardCount,
        retiredUsersPerShard: Int = Router.defaultRetiredUsersPerShard
    ) {
        shards = (0..<max(1, shardCount)).map { _ in
            ShardBox(SessionShard(retiredLimit: retiredUsersPerShard))
        }
    }

    public func put(user: UserID, server: ServerID, room: RoomID?) async -> Int32 {
        shard(of: user).state.withLock { $0.put(user: user, server: server, room: room) }
    }

    public func delete(user: UserID, seq: Int32) async -> Bool {
        shard(of: user).state.withLock { $0.delete(user: user, seq: seq) }
    }

    public func sessions(of users: [UserID]) async -> [UserID: [SessionRecord]] {
        sessionsNow(of: users)
    }

    public func sessionsNow(of users: [UserID]) -> [UserID: [SessionRecord]] {
        var found: [UserID: [SessionRecord]] = [:]
        for user in users {
            found[user] = shard(of: user).state.withLock { $0.sessions(of: user) }
        }
        return found
    }

    public func deleteServer(_ server: ServerID) async -> Int {
        shards.reduce(0) { removed, shard in
            removed + shard.state.withLock { $0.deleteServer(server) }
        }
    }

    public func roomCounts() async -> [RoomID: Int] {
        merged { $0.roomCounts }
    }

    public func serverCounts() async -> [ServerID: Int] {
        merged { $0.serverCounts }
    }

    /// Live sessions in the whole table.
    public var sessionCount: Int {
        shards.reduce(0) { total, shard in total + shard.state.withLock { $0.sessionCount } }
    }

    /// Users with at least one live session.
    public var userCount: Int {
        shards.reduce(0) { total, shard in total + shard.state.withLock { $0.users.count } }
    }

    private func shard(of user: UserID) -> ShardBox {
        shards[Int(UInt64(bitPattern: user) % UInt64(shards.count))]
    }

    private func merged<Key: Hashable>(_ counts: (SessionShard) -> [Key: Int]) -> [Key: Int] {
        var total: [Key: Int] = [:]
        for shard in shards {
            let part = shard.state.withLock { counts($0) }
            total.merge(part, uniquingKeysWith: +)
        }
        return total
    }
}

/// A shard's lock. `Mutex` is not copyable, so it cannot sit in an array by itself.
private final class ShardBox: Sendable {
    let state: Mutex<SessionShard>

    init(_ shard: SessionShard) {
        state = Mutex(shard)
    }
}
