import CAllocationCounter
import IMCore
import Testing

@Suite struct LoggerTests {
    /// A line below the level is dropped before anything is built. Each call used to leak two
    /// closure boxes (the stored sink was re-wrapped on every read): 2,000 or more here.
    @Test func filteredOutLinesAllocateNothing() {
        let logger = Logger(label: "logger-tests")
        let calls = 1_000
        logger.trace("warm-up", ["key": "value"])

        imctl_count_allocations_on_this_thread(true)
        let before = imctl_counted_allocations()
        for index in 0..<calls {
            logger.trace("filtered out", ["index": "\(index)"])
        }
        imctl_count_allocations_on_this_thread(false)
        let allocations = imctl_counted_allocations() - before

        // Other suites may count on their own threads meanwhile; they add far less than this.
        #expect(allocations < UInt64(calls), "\(allocations) allocations for \(calls) calls")
    }
}
