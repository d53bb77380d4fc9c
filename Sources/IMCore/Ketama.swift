import COpenSSL

/// Consistent hashing of users onto named nodes (routers), point for point as goim v1.2 does
/// it, so a mixed deployment agrees on which router owns a user.
///
/// Each node gets `pointsPerNode` points on a 32-bit ring: for i in 1...255, the big-endian
/// UInt32 in bytes 16..<20 of SHA-1("<name>:<i>"). A user hashes the same way from its decimal
/// id and belongs to the node of the first point at or after that value, wrapping around.
/// Adding or removing a node moves only the users whose nearest point changed. Immutable and
/// thread-safe; lookups cost one SHA-1 and a binary search.
public struct Ketama: Sendable {
    /// Points each node gets on the ring (goim's fixed value).
    public static let pointsPerNode = 255

    /// The node names, in the order given.
    public let nodes: [String]

    /// Ring points in ascending order, with the index in `nodes` of each point's owner.
    private let points: [UInt32]
    private let owners: [Int]

    /// Builds the ring; nil when `nodes` is empty (there is nobody to route to).
    public init?(nodes: [String]) {
        guard !nodes.isEmpty else { return nil }

        var ring: [(point: UInt32, owner: Int)] = []
        ring.reserveCapacity(nodes.count * Ketama.pointsPerNode)
        for (owner, name) in nodes.enumerated() {
            for index in 1...Ketama.pointsPerNode {
                ring.append((Ketama.hash("\(name):\(index)"), owner))
            }
        }
        // Ties (practically never) go to the node listed first, so the result is deterministic.
        ring.sort { ($0.point, $0.owner) < ($1.point, $1.owner) }

        self.nodes = nodes
        self.points = ring.map(\.point)
        self.owners = ring.map(\.owner)
    }

    /// The node that owns `user`.
    public func node(for user: UserID) -> String {
        nodes[owners[pointIndex(for: Ketama.hash("\(user)"))]]
    }

    /// The ring position of `text`: bytes 16..<20 of its SHA-1, big-endian.
    public static func hash(_ text: String) -> UInt32 {
        var digest = [UInt8](repeating: 0, count: Int(SHA_DIGEST_LENGTH))
        var text = text
        text.withUTF8 { utf8 in
            _ = SHA1(utf8.baseAddress, utf8.count, &digest)
        }
        return digest[16..<20].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Index of the first point >= `value`, wrapping to 0 past the last point.
    private func pointIndex(for value: UInt32) -> Int {
        var low = 0
        var high = points.count
        while low < high {
            let middle = (low + high) / 2
            if points[middle] < value {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low == points.count ? 0 : low
    }
}
