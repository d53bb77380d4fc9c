import CAllocationCounter
import IMCore
import IMTestKit
import Testing

@testable import IMComet

/// design.md §4.8: in steady state a delivery costs no allocation per receiving connection.
/// The counter sees only the heap allocations made on the comet's event loop (where the
/// encoded bytes are queued and written), not those of the test's clients.
@Suite(.serialized)
struct CometAllocationTests {
    static let clients = 200
    static let broadcasts = 50
    /// Checked-in ceiling: loop allocations per room message, whatever the number of
    /// receivers. Measured 6–10 in a debug build (Linux x86-64, Swift 6.3), more when the
    /// machine is busy: the loop's per-message work (running the posted task, waking up).
    /// One allocation per receiving connection would add 200 per message.
    static let maxAllocationsPerMessage = 40

    @Test func roomBroadcastsAllocateNothingPerReceivingConnection() async throws {
        try await withComet(loopCount: 1) { harness in
            var members: [TestClient] = []
            for user in 1...Self.clients {
                members.append(try await harness.authenticated(#"{"mid":\#(user),"room":7}"#))
            }
            // Warm up with the same burst: each connection's outbound queue grows its storage
            // once, then keeps it.
            try await broadcastAndDrain(harness, to: members, times: Self.broadcasts)

            let loop = harness.group.loops[0]
            await loop.submit { imctl_count_allocations_on_this_thread(true) }
            let before = imctl_counted_allocations()
            try await broadcastAndDrain(harness, to: members, times: Self.broadcasts)
            await loop.submit { imctl_count_allocations_on_this_thread(false) }
            let allocations = imctl_counted_allocations() - before

            let deliveries = Self.clients * Self.broadcasts
            #expect(
                allocations <= UInt64(Self.broadcasts * Self.maxAllocationsPerMessage),
                "\(allocations) loop allocations for \(deliveries) deliveries")
        }
    }

    /// Pushes `times` room messages one by one and waits until every member has read them.
    private func broadcastAndDrain(
        _ harness: CometHarness, to members: [TestClient], times: Int
    ) async throws {
        for index in 0..<times {
            try await harness.comet.broadcastRoom(7, bodies: [Array("message \(index)".utf8)])
        }
        for member in members {
            let frames = try await member.readFrames(times)
            #expect(frames.count == times && frames.allSatisfy { $0.op == Operation.push })
        }
    }
}
