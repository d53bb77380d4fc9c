import CLinux
import IMCore
import IMNet
import Testing

@testable import IMComet

/// The per-connection memory budget (design.md §4.6: ≤ 512 B of user space per idle
/// authenticated connection). Measured on Linux x86-64, Swift 6.3: the connection object is one
/// malloc block of 200 usable bytes; with the loop's map slot and its two list slots the
/// estimate is about 250 B. See `CometConnection`'s doc comment.
@Suite struct CometConnectionMemoryTests {
    @Test func idleConnectionObjectFitsTheBudget() throws {
        let group = try EventLoopGroup(loopCount: 1)
        defer { group.shutdown() }
        let context = CometContext(
            configuration: CometConfiguration(), logic: FakeLogic(), logger: Logger(label: "test"))
        let home = CometLoopState(loop: group.loops[0], context: context)
        let connection = CometConnection(fd: -1, home: home)

        let block = malloc_usable_size(Unmanaged.passUnretained(connection).toOpaque())
        let mapSlot = MemoryLayout<SessionKey>.stride + MemoryLayout<CometConnection>.stride
        let listSlots = 2 * MemoryLayout<CometConnection>.stride
        // Dictionaries keep their load factor under 3/4: count a slot as 4/3 of its size.
        let total = block + mapSlot * 4 / 3 + listSlots

        #expect(block <= 256, "connection object: \(block) B")
        #expect(total <= 512, "idle authenticated connection: \(total) B")
    }

    @Test func idleQueuesHoldNoStorage() {
        #expect(MemoryLayout<FrameDecoder>.size <= 24)
        #expect(MemoryLayout<OutboundQueue>.size <= 48)
        #expect(!FrameDecoder(maxBodySize: 4096).hasPartialFrame)
        #expect(OutboundQueue().isEmpty)
    }
}
