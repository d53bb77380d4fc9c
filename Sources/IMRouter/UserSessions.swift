import IMCore

/// One user's live sessions and the last sequence number handed out to that user.
struct UserSessions {
    /// The seq of the newest session (0 before the first). The next session gets the one after.
    private(set) var lastSeq: Int32
    /// Live sessions in the order they were added.
    private(set) var sessions: [SessionRecord] = []
    /// Set once `lastSeq` passed `Int32.max` and started again at 1: from then on a new seq
    /// must be checked against the live ones.
    private var hasWrapped = false

    init(after lastSeq: Int32) {
        self.lastSeq = lastSeq
    }

    var isEmpty: Bool { sessions.isEmpty }

    /// Records a session under the next free seq and returns it.
    mutating func add(server: ServerID, room: RoomID?) -> Int32 {
        var seq = following(lastSeq)
        while hasWrapped, sessions.contains(where: { $0.seq == seq }) {
            seq = following(seq)
        }

        lastSeq = seq
        sessions.append(SessionRecord(seq: seq, server: server, room: room))
        return seq
    }

    /// Removes the session `seq` and returns what was recorded for it.
    mutating func remove(seq: Int32) -> SessionRecord? {
        guard let index = sessions.firstIndex(where: { $0.seq == seq }) else { return nil }
        return sessions.remove(at: index)
    }

    /// Removes every session on `server` and returns them.
    mutating func removeAll(on server: ServerID) -> [SessionRecord] {
        let removed = sessions.filter { $0.server == server }
        sessions.removeAll { $0.server == server }
        return removed
    }

    func hasSession(on server: ServerID) -> Bool {
        sessions.contains { $0.server == server }
    }

    /// Seqs are positive: after `Int32.max` comes 1 again.
    private mutating func following(_ seq: Int32) -> Int32 {
        guard seq < .max, seq >= 0 else {
            hasWrapped = true
            return 1
        }
        return seq + 1
    }
}
