import Testing

@testable import IMNet

@Suite struct HandlerTableTests {
    /// Descriptors arrive in rising order as connections are accepted; the table must grow
    /// geometrically, not reallocate (and copy every slot) for nearly each new descriptor.
    @Test func growsGeometricallyAsDescriptorsRise() {
        var table = HandlerTable()
        var reallocations = 0
        var capacity = table.slotCapacity
        for fd in stride(from: Int32(0), to: 20_000, by: 2) {
            _ = table.nextGeneration(at: fd)
            if table.slotCapacity != capacity {
                reallocations += 1
                capacity = table.slotCapacity
            }
        }

        #expect(reallocations <= 10)
        #expect(table.slotCapacity >= 19_999)
        #expect(table.slotCapacity <= 2 * 20_000)
    }

    @Test func aNewGenerationIsOneMoreThanTheSlotHeld() {
        var table = HandlerTable()

        #expect(table.nextGeneration(at: 5) == 1)
        #expect(table.handler(at: 5) == nil)
        #expect(table.count == 0)
    }
}
