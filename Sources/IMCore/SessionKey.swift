/// One connection's id, goim's "key": `"<mid>_<seq>"` in decimal (`1001_3`).
public struct SessionKey: Sendable, Hashable, CustomStringConvertible {
    public var user: UserID
    public var seq: Int32

    public init(user: UserID, seq: Int32) {
        self.user = user
        self.seq = seq
    }

    /// Parses `"<mid>_<seq>"`: split at the first `_`, both parts decimal.
    public init?(_ text: some StringProtocol) {
        guard let underscore = text.firstIndex(of: "_"),
            let user = UserID(text[text.startIndex..<underscore]),
            let seq = Int32(text[text.index(after: underscore)...])
        else { return nil }
        self.init(user: user, seq: seq)
    }

    public var description: String { "\(user)_\(seq)" }
}
