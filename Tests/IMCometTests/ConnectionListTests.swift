import IMCore
import IMNet
import Testing

@testable import IMComet

@Suite struct ConnectionListTests {
    @Test func removalMovesTheLastMemberIntoTheGapAndKeepsSlotsTrue() throws {
        let group = try EventLoopGroup(loopCount: 1)
        defer { group.shutdown() }
        let connections = detachedConnections(4, on: group)
        var list = ConnectionList(.room)
        connections.forEach { list.insert($0) }

        list.remove(connections[1])

        #expect(list.members.map(ObjectIdentifier.init) == [0, 3, 2].map {
            ObjectIdentifier(connections[$0])
        })
        #expect(connections.map(\.roomSlot) == [0, -1, 2, 1])
        #expect(connections.map(\.openSlot) == [-1, -1, -1, -1], "the other slot is untouched")
    }

    @Test func removingEveryMemberInAnyOrderEmptiesTheList() throws {
        let group = try EventLoopGroup(loopCount: 1)
        defer { group.shutdown() }
        let connections = detachedConnections(5, on: group)
        var list = ConnectionList(.open)
        connections.forEach { list.insert($0) }

        for index in [4, 0, 2, 3, 1] {
            list.remove(connections[index])
        }

        #expect(list.isEmpty)
        #expect(connections.allSatisfy { $0.openSlot == -1 })
    }

    /// Connections that were never started: no socket, no loop registration.
    private func detachedConnections(_ count: Int, on group: EventLoopGroup) -> [CometConnection] {
        let context = CometContext(
            configuration: CometConfiguration(), logic: FakeLogic(), logger: Logger(label: "test"))
        let home = CometLoopState(loop: group.loops[0], context: context)
        return (0..<count).map { _ in CometConnection(fd: -1, home: home) }
    }
}
