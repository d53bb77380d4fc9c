import IMNet
import Testing

@Suite struct TimerWheelTests {
    @Test func firesEntriesInDeadlineOrder() {
        let wheel = TimerWheel(startMillis: 0)
        let log = FiredLog()
        let late = NamedTimer("late", log: log)
        let early = NamedTimer("early", log: log)
        let middle = NamedTimer("middle", log: log)

        wheel.schedule(late, afterMillis: 900)
        wheel.schedule(early, afterMillis: 100)
        wheel.schedule(middle, afterMillis: 450)
        wheel.advance(toMillis: 2_000)

        #expect(log.all == ["early", "middle", "late"])
        #expect(wheel.count == 0)
    }

    @Test func firesInSchedulingOrderWithinOneTick() {
        let wheel = TimerWheel(startMillis: 0)
        let log = FiredLog()
        let names = ["a", "b", "c", "d"]
        let timers = names.map { NamedTimer($0, log: log) }

        for timer in timers { wheel.schedule(timer, afterMillis: 150) }
        wheel.advance(toMillis: 200)

        #expect(log.all == names)
    }

    @Test func neverFiresBeforeTheDeadline() {
        let wheel = TimerWheel(startMillis: 1_000)
        let log = FiredLog()
        let timer = NamedTimer("t", log: log)
        wheel.schedule(timer, afterMillis: 250)

        wheel.advance(toMillis: 1_200)
        wheel.advance(toMillis: 1_249)
        #expect(log.all.isEmpty)
        #expect(timer.isScheduled)

        wheel.advance(toMillis: 1_300)
        #expect(log.all == ["t"])
        #expect(!timer.isScheduled)
    }

    @Test func schedulingAgainMovesTheEntry() {
        let wheel = TimerWheel(startMillis: 0)
        let log = FiredLog()
        let timer = NamedTimer("moved", log: log)

        wheel.schedule(timer, afterMillis: 100)
        wheel.schedule(timer, afterMillis: 500)
        #expect(wheel.count == 1)

        wheel.advance(toMillis: 400)
        #expect(log.all.isEmpty)
        wheel.advance(toMillis: 500)
        #expect(log.all == ["moved"])
    }

    @Test func cancelledEntryNeverFires() {
        let wheel = TimerWheel(startMillis: 0)
        let log = FiredLog()
        let timer = NamedTimer("cancelled", log: log)

        wheel.schedule(timer, afterMillis: 100)
        wheel.cancel(timer)
        wheel.cancel(timer)
        wheel.advance(toMillis: 1_000)

        #expect(log.all.isEmpty)
        #expect(wheel.count == 0)
    }

    @Test func callbackMayCancelAnEntryDueInTheSameTick() {
        let wheel = TimerWheel(startMillis: 0)
        let log = FiredLog()
        let victim = NamedTimer("victim", log: log)
        let killer = NamedTimer("killer", log: log) { _ in wheel.cancel(victim) }

        wheel.schedule(killer, afterMillis: 100)
        wheel.schedule(victim, afterMillis: 100)
        wheel.advance(toMillis: 1_000)

        #expect(log.all == ["killer"])
        #expect(!victim.isScheduled)
    }

    @Test func callbackMayRescheduleItself() {
        let wheel = TimerWheel(startMillis: 0)
        let log = FiredLog()
        let ticker = NamedTimer("tick", log: log) { timer in wheel.schedule(timer, afterMillis: 100)
        }

        wheel.schedule(ticker, afterMillis: 100)
        for now in stride(from: UInt64(100), through: 1_000, by: 100) {
            wheel.advance(toMillis: now)
        }

        #expect(log.all.count == 10)
        #expect(ticker.isScheduled)
    }

    @Test func callbackMayScheduleAnotherEntryForLater() {
        let wheel = TimerWheel(startMillis: 0)
        let log = FiredLog()
        let second = NamedTimer("second", log: log)
        let first = NamedTimer("first", log: log) { _ in wheel.schedule(second, afterMillis: 0) }

        wheel.schedule(first, afterMillis: 100)
        wheel.advance(toMillis: 100)
        #expect(log.all == ["first"])

        wheel.advance(toMillis: 200)
        #expect(log.all == ["first", "second"])
    }

    @Test func deadlinesBeyondOneRevolutionWaitForTheirTurn() {
        // 8 slots of 100 ms: one revolution is 800 ms, so 2,000 ms passes the slot twice.
        let wheel = TimerWheel(startMillis: 0, slotCount: 8)
        let log = FiredLog()
        let timer = NamedTimer("far", log: log)
        wheel.schedule(timer, afterMillis: 2_000)

        for now in stride(from: UInt64(100), through: 1_900, by: 100) {
            wheel.advance(toMillis: now)
        }
        #expect(log.all.isEmpty)

        wheel.advance(toMillis: 2_000)
        #expect(log.all == ["far"])
    }

    @Test func longPauseFiresEverythingDueAndKeepsTheRest() {
        let wheel = TimerWheel(startMillis: 0, slotCount: 8)
        let log = FiredLog()
        let due = NamedTimer("due", log: log)
        let later = NamedTimer("later", log: log)
        wheel.schedule(due, afterMillis: 3_000)
        wheel.schedule(later, afterMillis: 60_000)

        wheel.advance(toMillis: 10_000)
        #expect(log.all == ["due"])
        #expect(later.isScheduled)

        wheel.advance(toMillis: 60_000)
        #expect(log.all == ["due", "later"])
    }

    @Test func thousandsOfFiveMinuteDeadlinesFireTogetherAndNotBefore() {
        let wheel = TimerWheel(startMillis: 0)
        let log = FiredLog()
        let timers = (0..<5_000).map { NamedTimer("t\($0)", log: log) }
        for (offset, timer) in timers.enumerated() {
            wheel.schedule(timer, afterMillis: 300_000 + offset % 10)
        }

        for now in stride(from: UInt64(100), through: 299_900, by: 100) {
            wheel.advance(toMillis: now)
        }
        #expect(log.all.isEmpty)
        #expect(wheel.count == 5_000)

        wheel.advance(toMillis: 300_100)
        #expect(log.all.count == 5_000)
        #expect(wheel.count == 0)
    }

    @Test func nextDeadlineIsTheNextTickOnlyWhileEntriesWait() {
        let wheel = TimerWheel(startMillis: 1_050)
        let timer = NamedTimer("t", log: FiredLog())
        #expect(wheel.nextDeadlineMillis == nil)

        wheel.schedule(timer, afterMillis: 5_000)
        #expect(wheel.nextDeadlineMillis == 1_100)

        wheel.cancel(timer)
        #expect(wheel.nextDeadlineMillis == nil)
    }

    @Test func schedulingUsesTheClockUpdatedBeforeEvents() {
        let wheel = TimerWheel(startMillis: 0)
        let log = FiredLog()
        let timer = NamedTimer("t", log: log)

        wheel.updateClock(5_000)
        wheel.schedule(timer, afterMillis: 1_000)
        wheel.advance(toMillis: 5_500)
        #expect(log.all.isEmpty)

        wheel.advance(toMillis: 6_000)
        #expect(log.all == ["t"])
    }
}
