import Synchronization

/// Something a `TimerWheel` can hold: subclass it (a connection is its own timer) and override
/// `timerExpired()`.
///
/// The wheel's links live in the entry itself, so scheduling, moving and cancelling allocate
/// nothing. An entry is on at most one wheel at a time and is touched only on that wheel's
/// loop thread. While scheduled, the wheel keeps a strong reference to it.
open class TimerWheelEntry {
    /// Next entry in the slot's list (strong: the list owns its entries).
    var next: TimerWheelEntry?
    /// Previous entry; the head's `previous` is the tail, so appending is O(1).
    /// `unowned(unsafe)`: every linked entry is kept alive by the list's strong `next`/head
    /// references, and `previous` is cleared whenever the entry leaves the list.
    unowned(unsafe) var previous: TimerWheelEntry?
    /// Index of the list holding the entry, or -1 when not scheduled.
    var slotIndex: Int32 = -1
    /// Tag of the wheel holding the entry (catches use of one entry on two wheels).
    var wheelTag: UInt32 = 0
    /// The tick at or after which the entry fires.
    var deadlineTick: UInt64 = 0

    public init() {}

    /// Called on the loop thread when the deadline has passed. The entry is already unlinked,
    /// so it may reschedule itself or cancel other entries. Default: nothing.
    open func timerExpired() {}

    /// Whether the entry is waiting on a wheel.
    public var isScheduled: Bool { slotIndex >= 0 }
}

/// A hashed timer wheel: deadlines rounded up to 100 ms ticks, one slot per tick, 4,096 slots
/// (about 6.8 minutes per revolution).
///
/// Each tick visits one slot, so thousands of idle connections with 5-minute deadlines cost
/// nothing until their slot comes round. Deadlines beyond one revolution stay in their slot and
/// are skipped until their tick is reached. Entries never fire early; they fire up to one tick
/// (plus loop latency) late, in tick order, and in scheduling order within a tick.
///
/// Not thread-safe: one wheel per event loop, used only on that loop's thread.
public final class TimerWheel {
    /// Milliseconds per tick.
    public let tickMillis: UInt64
    /// Entries currently scheduled.
    public private(set) var count = 0
    /// The wheel's clock: the latest time given to `updateClock` or `advance`.
    public private(set) var nowMillis: UInt64

    private let slotMask: UInt64
    /// One list head per slot, plus one extra list for the slot being visited.
    private var heads: [TimerWheelEntry?]
    private let visitingIndex: Int32
    /// The last tick whose slot has been visited.
    private var processedTick: UInt64
    private var isAdvancing = false
    private let tag: UInt32

    private static let tags = Atomic<UInt32>(0)

    /// A wheel whose clock starts at `startMillis` (monotonic). `slotCount` is rounded up to a
    /// power of two.
    public init(startMillis: UInt64, tickMillis: UInt64 = 100, slotCount: Int = 4096) {
        precondition(
            tickMillis > 0 && slotCount > 0, "TimerWheel needs a positive tick and slot count")
        let slots = 1 << (Int.bitWidth - (max(slotCount, 2) - 1).leadingZeroBitCount)
        self.tickMillis = tickMillis
        self.slotMask = UInt64(slots - 1)
        self.heads = Array(repeating: nil, count: slots + 1)
        self.visitingIndex = Int32(slots)
        self.nowMillis = startMillis
        self.processedTick = startMillis / tickMillis
        self.tag = TimerWheel.tags.wrappingAdd(1, ordering: .relaxed).newValue
    }

    /// Schedules `entry` to fire `afterMillis` from the wheel's clock (negative means now, i.e.
    /// the next tick). An entry already scheduled is moved.
    public func schedule(_ entry: TimerWheelEntry, afterMillis: Int) {
        if entry.isScheduled { cancel(entry) }

        let deadline = nowMillis + UInt64(max(afterMillis, 0))
        let roundedUp = (deadline + tickMillis - 1) / tickMillis
        // A tick already visited would only come round a revolution later.
        let tick = max(roundedUp, processedTick + 1)
        entry.deadlineTick = tick
        entry.wheelTag = tag
        link(entry, into: Int(tick & slotMask))
    }

    /// Unschedules `entry`; nothing happens if it is not scheduled.
    public func cancel(_ entry: TimerWheelEntry) {
        guard entry.isScheduled else { return }
        precondition(
            entry.wheelTag == tag, "TimerWheelEntry cancelled on a wheel that does not hold it")
        unlink(entry)
    }

    /// Moves the clock forward without firing anything (the loop calls it before handling
    /// events, so deadlines scheduled by handlers count from the current time).
    public func updateClock(_ millis: UInt64) {
        nowMillis = max(nowMillis, millis)
    }

    /// Moves the clock to `millis` and fires every entry whose deadline tick has been reached.
    /// Calls from inside `timerExpired()` are ignored.
    public func advance(toMillis millis: UInt64) {
        updateClock(millis)
        let targetTick = nowMillis / tickMillis
        guard targetTick > processedTick, !isAdvancing else { return }

        isAdvancing = true
        defer { isAdvancing = false }

        if count == 0 {
            processedTick = targetTick
        } else if targetTick - processedTick > slotMask {
            catchUpAfterLongPause(to: targetTick)
        } else {
            while processedTick < targetTick {
                processedTick += 1
                visitSlot(Int(processedTick & slotMask), firingDueBy: processedTick)
            }
        }
    }

    /// When the next tick is due, if anything is scheduled: the event loop sleeps until then.
    public var nextDeadlineMillis: UInt64? {
        count > 0 ? (processedTick + 1) * tickMillis : nil
    }

    /// Unschedules every entry (used when a loop shuts down).
    public func removeAll() {
        for index in heads.indices {
            while let entry = heads[index] { unlink(entry) }
        }
    }

    /// More than a revolution has passed: visit every slot once, firing all that are due.
    /// Ordering across slots is not kept on this rare path.
    private func catchUpAfterLongPause(to targetTick: UInt64) {
        processedTick = targetTick
        for slot in 0...Int(slotMask) {
            visitSlot(slot, firingDueBy: targetTick)
        }
    }

    /// Fires the due entries of one slot. The slot's list is first moved to a side list, so a
    /// callback may cancel or reschedule any entry (even one still waiting in this visit)
    /// without breaking the walk; entries not yet due go back to the slot.
    private func visitSlot(_ slot: Int, firingDueBy dueTick: UInt64) {
        guard heads[slot] != nil else { return }

        heads[Int(visitingIndex)] = heads[slot]
        heads[slot] = nil
        var cursor = heads[Int(visitingIndex)]
        while let entry = cursor {
            entry.slotIndex = visitingIndex
            cursor = entry.next
        }

        while let entry = heads[Int(visitingIndex)] {
            unlink(entry)
            if entry.deadlineTick <= dueTick {
                entry.timerExpired()
            } else {
                link(entry, into: slot)
            }
        }
    }

    /// Appends `entry` to the list at `index`.
    private func link(_ entry: TimerWheelEntry, into index: Int) {
        entry.slotIndex = Int32(index)
        entry.next = nil
        if let head = heads[index] {
            let tail = head.previous
            tail?.next = entry
            entry.previous = tail
            head.previous = entry
        } else {
            entry.previous = entry
            heads[index] = entry
        }
        count += 1
    }

    /// Removes `entry` from its list.
    private func unlink(_ entry: TimerWheelEntry) {
        let index = Int(entry.slotIndex)
        let next = entry.next

        if heads[index] === entry {
            next?.previous = entry.previous
            heads[index] = next
        } else {
            entry.previous?.next = next
            if let next {
                next.previous = entry.previous
            } else {
                heads[index]?.previous = entry.previous
            }
        }

        entry.next = nil
        entry.previous = nil
        entry.slotIndex = -1
        count -= 1
    }
}
