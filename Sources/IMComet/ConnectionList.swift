/// An unordered set of connections with O(1) insert and remove: an array, plus each member's
/// position stored in the member itself (`CometConnection.openSlot` or `.roomSlot`). Removal
/// moves the last member into the freed position. Iteration is a walk over one contiguous
/// array of references.
///
/// Loop-confined, like the connections in it.
struct ConnectionList {
    /// Which of the connection's two slot fields this list maintains.
    enum Slot {
        /// `CometConnection.openSlot`: the loop's list of every open connection.
        case open
        /// `CometConnection.roomSlot`: one room's members.
        case room
    }

    let slot: Slot
    private(set) var members: [CometConnection] = []

    init(_ slot: Slot) {
        self.slot = slot
    }

    var count: Int { members.count }
    var isEmpty: Bool { members.isEmpty }

    /// Calls `body` with each member, in array order. `body` must not change this list.
    func forEach(_ body: (CometConnection) -> Void) {
        // Indexing rather than `for in`: the iterator allocates in unoptimized builds, and
        // this walk runs once per receiver of every room push.
        var index = 0
        while index < members.count {
            body(members[index])
            index += 1
        }
    }

    mutating func insert(_ connection: CometConnection) {
        connection.setSlot(slot, Int32(members.count))
        members.append(connection)
    }

    /// Removes `connection`, which must be a member.
    mutating func remove(_ connection: CometConnection) {
        let index = Int(connection.slot(slot))
        precondition(members[index] === connection, "connection is not in this list")

        let last = members.removeLast()
        if index < members.count {
            members[index] = last
            last.setSlot(slot, Int32(index))
        }
        connection.setSlot(slot, -1)
    }
}
