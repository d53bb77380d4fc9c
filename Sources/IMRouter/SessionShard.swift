import IMCore

/// The part of the session table for the users that hash to one shard, with that part's
/// online counts. Not thread-safe: `Router` keeps each shard behind its own lock.
///
/// Invariants: every count equals the number of live sessions it describes, counts are
/// positive (an entry that reaches zero is removed), and a user without sessions has no entry.
struct SessionShard {
    private(set) var users: [UserID: UserSessions] = [:]
    private(set) var roomCounts: [RoomID: Int] = [:]
    private(set) var serverCounts: [ServerID: Int] = [:]
    private(set) var sessionCount = 0

    /// The last seq of users whose last session went away, so that a returning user continues
    /// after it instead of reusing keys. Bounded by `retiredLimit`.
    private var retiredSeqs: [UserID: Int32] = [:]
    /// At least the last seq of every user forgotten from `retiredSeqs`; users without an
    /// entry there start after it.
    private var retiredFloor: Int32 = 0
    private let retiredLimit: Int

    init(retiredLimit: Int) {
        self.retiredLimit = max(1, retiredLimit)
    }

    /// Records a session and returns its seq.
    mutating func put(user: UserID, server: ServerID, room: RoomID?) -> Int32 {
        if users[user] == nil {
            users[user] = UserSessions(after: takeRetiredSeq(of: user))
        }
        // The entry exists by now; the default is never used. Mutating in place avoids a
        // copy of the session array.
        let seq = users[user, default: UserSessions(after: 0)].add(server: server, room: room)

        adjustCounts(server: server, room: room, by: 1)
        return seq
    }

    /// Removes one session, counting it down under the room and server it was recorded with.
    mutating func delete(user: UserID, seq: Int32) -> Bool {
        guard let removed = users[user]?.remove(seq: seq) else { return false }

        adjustCounts(server: removed.server, room: removed.room, by: -1)
        retireIfEmpty(user)
        return true
    }

    /// Removes every session on `server`; sessions of the same users elsewhere stay.
    mutating func deleteServer(_ server: ServerID) -> Int {
        guard serverCounts[server] != nil else { return 0 }

        let affected = users.compactMap { user, entry in entry.hasSession(on: server) ? user : nil }
        var removedCount = 0
        for user in affected {
            let removed = users[user]?.removeAll(on: server) ?? []
            for record in removed {
                adjustCounts(server: record.server, room: record.room, by: -1)
            }
            removedCount += removed.count
            retireIfEmpty(user)
        }
        return removedCount
    }

    func sessions(of user: UserID) -> [SessionRecord]? {
        users[user]?.sessions
    }

    private mutating func adjustCounts(server: ServerID, room: RoomID?, by delta: Int) {
        sessionCount += delta
        Self.adjust(&serverCounts, server, by: delta)
        if let room {
            Self.adjust(&roomCounts, room, by: delta)
        }
    }

    private static func adjust<Key: Hashable>(
        _ counts: inout [Key: Int], _ key: Key, by delta: Int
    ) {
        let updated = counts[key, default: 0] + delta
        counts[key] = updated > 0 ? updated : nil
    }

    private mutating func retireIfEmpty(_ user: UserID) {
        guard let entry = users[user], entry.isEmpty else { return }

        users[user] = nil
        if retiredSeqs.count >= retiredLimit {
            forgetRetiredSeqs()
        }
        retiredSeqs[user] = entry.lastSeq
    }

    /// Drops the whole retired map at once (amortised O(1) per retirement) and raises the floor
    /// so that no forgotten user can be handed a seq it already had.
    private mutating func forgetRetiredSeqs() {
        retiredFloor = max(retiredFloor, retiredSeqs.values.max() ?? 0)
        retiredSeqs.removeAll(keepingCapacity: true)
    }

    private mutating func takeRetiredSeq(of user: UserID) -> Int32 {
        retiredSeqs.removeValue(forKey: user) ?? retiredFloor
    }
}
