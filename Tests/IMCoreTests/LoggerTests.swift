import Testing

@testable import IMCore

@Suite struct LoggerTests {
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
