import Glibc
import IMNet
import Testing

@Suite struct FileLimitTests {
    @Test func reservesUpToTheCapacityLeftAboveTheSpareMargin() {
        let limit = FileLimit(limit: 10, spare: 3, baseline: 4)
        #expect(limit.capacity == 3)

        let granted = (0..<5).filter { _ in limit.tryReserve() }.count

        #expect(granted == 3)
        #expect(limit.reserved == 3)
        #expect(!limit.hasRoom)
    }

    @Test func releaseMakesRoomAgainButNeverGoesBelowZero() {
        let limit = FileLimit(limit: 1, spare: 0)
        #expect(limit.tryReserve())
        #expect(!limit.tryReserve())

        limit.release()
        limit.release()

        #expect(limit.reserved == 0)
        #expect(limit.tryReserve())
    }

    @Test func sharedLimitReflectsTheProcessLimit() {
        let shared = FileLimit.shared
        #expect(shared.limit > 0)
        #expect(shared.baseline >= 3)
        #expect(shared.capacity < shared.limit)
    }

    @Test func acceptingPausesAtTheLimitWithoutSpinningAndResumesAfterRelease() async throws {
        let group = try EventLoopGroup(loopCount: 1)
        group.start()
        defer { group.shutdown() }
        let fileLimit = FileLimit(limit: 2, spare: 0)
        let parked = ParkedSockets()
        let listener = try TCPServer.listen(
            group: group, host: "127.0.0.1", port: 0, fileLimit: fileLimit
        ) {
            _, fd, _ in parked.park(fd)
        }
        defer { listener.close(); parked.closeAll() }

        var clients: [Int32] = []
        defer { clients.forEach { close($0) } }
        for _ in 0..<5 {
            clients.append(try NetTestSupport.connectClient(port: listener.address.port))
        }
        #expect(await NetTestSupport.waitUntil { parked.count == 2 })

        // Three connections wait in the kernel queue; a spinning listener would be woken
        // thousands of times in this window.
        let wakeupsBefore = listener.statistics.wakeups
        let callsBefore = listener.statistics.acceptCalls
        try await Task.sleep(for: .milliseconds(300))
        #expect(listener.statistics.wakeups - wakeupsBefore <= 3)
        #expect(listener.statistics.acceptCalls - callsBefore <= 3)
        #expect(listener.statistics.pauses >= 1)
        #expect(parked.count == 2)

        #expect(parked.closeOne())
        fileLimit.release()

        #expect(
            await NetTestSupport.waitUntil(timeout: .seconds(3)) {
                parked.count == 2 && listener.statistics.accepted == 3
            })
        #expect(fileLimit.reserved == 2)
    }
}
