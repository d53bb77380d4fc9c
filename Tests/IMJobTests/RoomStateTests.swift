import IMCore
import Testing

@testable import IMJob

/// The sender's decisions, without tasks or clocks.
@Suite struct RoomStateTests {
    private let limits = RoomLimits(
        JobConfiguration(roomBatchSize: 3, roomBatchWindow: .seconds(1), roomQueueLimit: 5))

    @Test func aNewRoomSendsItsFirstMessageAtOnceAndOpensAWindow() {
        var table = RoomTable()

        let offer = table.offer(body(0), to: 1, limits: limits, force: false)
        let step = table.nextStep(for: 1, limits: limits, stopping: false)

        #expect(offer == .activated)
        #expect(step.batches == [[body(0)]])
        #expect(table.rooms[1]?.window != nil)
        #expect(table.deadlines.count == 1)
    }

    @Test func anOpenWindowWaitsUntilABatchIsFull() {
        var table = tableWithOpenWindow()
        _ = table.offer(body(1), to: 1, limits: limits, force: false)
        _ = table.offer(body(2), to: 1, limits: limits, force: false)

        let early = table.nextStep(for: 1, limits: limits, stopping: false)
        _ = table.offer(body(3), to: 1, limits: limits, force: false)
        let full = table.nextStep(for: 1, limits: limits, stopping: false)

        #expect(early.isWait)
        #expect(full.batches == [[body(1), body(2), body(3)]])
    }

    @Test func aFullBatchOpensANewWindowSoTheNextMessageWaitsForIt() throws {
        var table = tableWithOpenWindow()
        let firstWindow = table.rooms[1]?.window
        let firstDeadline = try #require(table.deadlines.first?.instant)
        for index in 1...3 {
            _ = table.offer(body(index), to: 1, limits: limits, force: false)
        }
        _ = table.nextStep(for: 1, limits: limits, stopping: false)

        // The first window's deadline passes: the room keeps the window its batch opened.
        table.expireWindows(at: firstDeadline)
        _ = table.offer(body(4), to: 1, limits: limits, force: false)
        let step = table.nextStep(for: 1, limits: limits, stopping: false)

        #expect(table.rooms[1]?.window != firstWindow)
        #expect(step.isWait)
    }

    @Test func theEndOfAWindowSendsEverythingInBatches() {
        var table = tableWithOpenWindow()
        for index in 1...5 {
            _ = table.offer(body(index), to: 1, limits: limits, force: false)
        }

        table.expireWindows(at: .now + .seconds(2))
        let step = table.nextStep(for: 1, limits: limits, stopping: false)

        #expect(step.batches == [[body(1), body(2), body(3)], [body(4), body(5)]])
    }

    @Test func aWindowThatEndsWithNothingWaitingFreesTheRoom() {
        var table = tableWithOpenWindow()

        table.expireWindows(at: .now + .seconds(2))
        let step = table.nextStep(for: 1, limits: limits, stopping: false)

        #expect(step.isIdle)
        #expect(table.rooms.isEmpty)
    }

    @Test func aFullRoomRefusesUnlessForced() {
        var table = tableWithOpenWindow()
        for index in 1...5 {
            #expect(table.offer(body(index), to: 1, limits: limits, force: false) == .queued)
        }

        #expect(table.offer(body(6), to: 1, limits: limits, force: false) == .full)
        #expect(table.offer(body(6), to: 1, limits: limits, force: true) == .queued)
    }

    @Test func aStaleDeadlineDoesNotCloseALaterWindow() throws {
        var table = tableWithOpenWindow()
        let staleDeadline = try #require(table.deadlines.first?.instant)
        // The room goes idle without its window ending (the job stopping), then comes back.
        _ = table.nextStep(for: 1, limits: limits, stopping: true)
        _ = table.offer(body(1), to: 1, limits: limits, force: false)
        _ = table.nextStep(for: 1, limits: limits, stopping: false)
        let newWindow = table.rooms[1]?.window

        table.expireWindows(at: staleDeadline)

        #expect(newWindow != nil)
        #expect(table.rooms[1]?.window == newWindow)
        #expect(table.deadlines.count == 1)
    }

    @Test func stoppingFlushesAnOpenWindowAtOnce() {
        var table = tableWithOpenWindow()
        _ = table.offer(body(1), to: 1, limits: limits, force: false)

        let step = table.nextStep(for: 1, limits: limits, stopping: true)
        let after = table.nextStep(for: 1, limits: limits, stopping: true)

        #expect(step.batches == [[body(1)]])
        #expect(after.isIdle)
    }

    @Test func batchingOffUsesSingleMessageBatchesAndNoWindow() {
        let off = RoomLimits(JobConfiguration(roomBatchSize: 40, roomBatchWindow: .zero))
        var table = RoomTable()
        _ = table.offer(body(0), to: 1, limits: off, force: false)
        _ = table.offer(body(1), to: 1, limits: off, force: false)

        let step = table.nextStep(for: 1, limits: off, stopping: false)

        #expect(step.batches == [[body(0)], [body(1)]])
        #expect(table.rooms[1]?.window == nil)
        #expect(table.nextStep(for: 1, limits: off, stopping: false).isIdle)
    }

    /// Room 1 after its first message went out: window open, nothing waiting.
    private func tableWithOpenWindow() -> RoomTable {
        var table = RoomTable()
        _ = table.offer(body(0), to: 1, limits: limits, force: false)
        _ = table.nextStep(for: 1, limits: limits, stopping: false)
        return table
    }
}

extension RoomStep {
    fileprivate var batches: [[[UInt8]]]? {
        guard case .deliver(let batches) = self else { return nil }
        return batches
    }

    fileprivate var isWait: Bool {
        guard case .wait = self else { return false }
        return true
    }

    fileprivate var isIdle: Bool {
        guard case .idle = self else { return false }
        return true
    }
}
