/// An event loop's registered handlers, indexed by descriptor number (descriptors are small
/// and dense, so an array beats a dictionary), plus the flushes scheduled in this iteration.
///
/// Each slot carries a generation, bumped on every registration and stored in the epoll token,
/// so events queued for a descriptor that was replaced in the same batch are recognised and
/// dropped. Loop-confined; not thread-safe.
struct HandlerTable {
    /// 24 bytes: the field order keeps the small fields in one word.
    struct Slot {
        var handler: (any FileHandler)?
        var generation: UInt32 = 0
        var events: IOEvents = []
        var flushScheduled = false
    }

    private struct ScheduledFlush {
        var fd: Int32
        var generation: UInt32
    }

    private var slots: [Slot] = []
    /// Flushes scheduled in this iteration; swapped with `flushesRunning` when they run, so both
    /// arrays keep their capacity and scheduling allocates nothing in steady state.
    private var flushesScheduled: [ScheduledFlush] = []
    private var flushesRunning: [ScheduledFlush] = []

    private(set) var count = 0

    /// Slots the table can hold before it must reallocate (for tests of its growth).
    var slotCapacity: Int { slots.capacity }

    var hasScheduledFlushes: Bool { !flushesScheduled.isEmpty }

    /// The handler registered at `fd`, if any.
    func handler(at fd: Int32) -> (any FileHandler)? {
        guard fd >= 0, Int(fd) < slots.count else { return nil }
        return slots[Int(fd)].handler
    }

    /// The handler at `fd`, if it is still the registration `generation` refers to.
    func handler(at fd: Int32, generation: UInt32) -> (any FileHandler)? {
        guard fd >= 0, Int(fd) < slots.count, slots[Int(fd)].generation == generation else {
            return nil
        }
        return slots[Int(fd)].handler
    }

    /// The slot at `fd` if `handler` is the one registered there.
    func slot(at fd: Int32, for handler: any FileHandler) -> Slot? {
        guard fd >= 0, Int(fd) < slots.count, slots[Int(fd)].handler === handler else { return nil }
        return slots[Int(fd)]
    }

    /// The generation the next registration at `fd` gets (grows the table to hold `fd`).
    mutating func nextGeneration(at fd: Int32) -> UInt32 {
        growToInclude(Int(fd))
        return slots[Int(fd)].generation &+ 1
    }

    mutating func install(
        _ handler: any FileHandler, at fd: Int32, events: IOEvents, generation: UInt32
    ) {
        if slots[Int(fd)].handler == nil { count += 1 }
        slots[Int(fd)] = Slot(handler: handler, generation: generation, events: events)
    }

    mutating func setEvents(_ events: IOEvents, at fd: Int32) {
        slots[Int(fd)].events = events
    }

    mutating func remove(at fd: Int32) {
        slots[Int(fd)].handler = nil
        slots[Int(fd)].events = []
        slots[Int(fd)].flushScheduled = false
        count -= 1
    }

    /// Empties the table, returning the handlers that were in it.
    mutating func removeAll() -> [any FileHandler] {
        var removed: [any FileHandler] = []
        for fd in slots.indices where slots[fd].handler != nil {
            removed.append(slots[fd].handler!)
            remove(at: Int32(fd))
        }
        flushesScheduled.removeAll()
        return removed
    }

    mutating func scheduleFlush(for handler: any FileHandler) {
        let fd = handler.fd
        guard let slot = slot(at: fd, for: handler), !slot.flushScheduled else { return }

        slots[Int(fd)].flushScheduled = true
        flushesScheduled.append(ScheduledFlush(fd: fd, generation: slot.generation))
    }

    /// Starts running the flushes scheduled so far: how many there are. Flushes scheduled
    /// while these run wait for the next iteration (which then does not block).
    ///
    /// The loop calls `takeFlush(at:)` for each and calls `flush()` itself, outside any access
    /// to the table, because a handler's `flush()` may register, deregister or schedule again.
    mutating func beginFlushBatch() -> Int {
        swap(&flushesScheduled, &flushesRunning)
        return flushesRunning.count
    }

    /// The handler of the batch's `index`th flush if it is still registered and scheduled.
    mutating func takeFlush(at index: Int) -> (any FileHandler)? {
        let scheduled = flushesRunning[index]
        let fd = Int(scheduled.fd)
        guard slots[fd].generation == scheduled.generation, slots[fd].flushScheduled else {
            return nil
        }

        slots[fd].flushScheduled = false
        return slots[fd].handler
    }

    mutating func endFlushBatch() {
        flushesRunning.removeAll(keepingCapacity: true)
    }

    /// Grows geometrically so a rising descriptor number does not copy the table each time:
    /// storage is reallocated only when `fd` is past the capacity (not just past the count,
    /// which would reallocate for nearly every new descriptor).
    private mutating func growToInclude(_ fd: Int) {
        guard fd >= slots.count else { return }
        if fd >= slots.capacity {
            slots.reserveCapacity(max(fd + 1, slots.capacity * 2, 64))
        }
        slots.append(contentsOf: repeatElement(Slot(), count: fd + 1 - slots.count))
    }
}
