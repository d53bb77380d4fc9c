import CAllocationCounter
import Testing

@testable import IMCore

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

    @Test func controlCharactersFromPeersCannotForgeLinesOrReachTheTerminal() {
        let forged = "127.0.0.1:1\n2026-12-04T00:00:00Z error logic: FAKE\u{1B}[31m\r\t\u{7F}"

        let line = Logger.escaped(forged)

        #expect(line == #"127.0.0.1:1\n2026-12-04T00:00:00Z error logic: FAKE\u{1b}[31m\r\t\u{7f}"#)
        #expect(!line.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
    }

    @Test func ordinaryTextIsLeftAlone() {
        #expect(Logger.escaped("comet registered ünïcode 😀") == "comet registered ünïcode 😀")
    }
}
