import Foundation
import IMCore
import Testing

@testable import IMCLI

/// The REPL core driven with lines given up front (no terminal, no child process).
@Suite struct ReplTests {
    private struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    private func repl(
        _ lines: [String], logic: String = "http://127.0.0.1:1", interactive: Bool = false,
        history: ReplHistory? = nil, stop: StopSignal = StopSignal()
    ) -> Run {
        let out = CapturedOutput()
        let err = CapturedOutput()
        var settings = ReplSession.Settings(
            logic: logic, environment: [:], stdout: out, stderr: err)
        settings.isInteractive = interactive
        settings.history = history
        var session = ReplSession(settings, stop: stop)
        var source = ListedLines(lines)
        let status = session.run(&source)
        return Run(status: status, stdout: out.text, stderr: err.text)
    }

    private static let ok = FakeLogic.response("{\"ret\":1}")

    @Test func runsEveryLineAndExits1WhenOneFailed() throws {
        let logic = try FakeLogic(connections: 2) { _ in Self.ok }

        let run = repl(["push-all hello", "bogus", "push-all 'two words'"], logic: logic.url)

        #expect(run.status == 1)
        #expect(run.stdout == "ok\nok\n")
        #expect(run.stderr.hasPrefix("Error: unknown command 'bogus'\n"))
        #expect(logic.requests.map { String(decoding: $0.body, as: UTF8.self) } == [
            "hello", "two words",
        ])
    }

    @Test func exitsZeroWhenEveryLineSucceeded() {
        let run = repl(["version", "", "   ", "# a comment", "imctl version"])

        #expect(run.status == 0)
        #expect(run.stdout == String(repeating: "imctl \(IMCommandLine.version)\n", count: 2))
        #expect(run.stderr.isEmpty)
    }

    @Test(arguments: ["quit", "exit"])
    func quitWordStopsReading(word: String) {
        let run = repl(["version", word, "bogus"])

        #expect(run.status == 0)
        #expect(run.stdout == "imctl \(IMCommandLine.version)\n")
        #expect(run.stderr.isEmpty)
    }

    @Test func unterminatedQuoteIsAnErrorLineAndTheNextLineStillRuns() {
        let run = repl(["push-all 'oops", "version"])

        #expect(run.status == 1)
        #expect(run.stderr == "Error: unterminated single quote\n")
        #expect(run.stdout == "imctl \(IMCommandLine.version)\n")
    }

    @Test func serveIsRefusedWithAClearMessage() {
        let run = repl(["serve all --http 127.0.0.1:0"])

        #expect(run.status == 1)
        #expect(run.stderr.hasPrefix("Error: 'serve' does not run inside the REPL"))
        #expect(run.stdout.isEmpty)
    }

    @Test func messageFromStandardInputIsRefused() {
        let run = repl(["push-all -", "push-all"])

        #expect(run.status == 1)
        #expect(run.stderr.contains("Error: standard input is not available here"))
        #expect(run.stderr.contains("Error: missing <message>: give it on the line\n"))
    }

    @Test func helpListsTheCommandsAndTheReplWords() {
        let run = repl(["help"])

        #expect(run.status == 0)
        #expect(run.stdout.hasPrefix("COMMANDS:\n"))
        #expect(run.stdout.contains("\n  push-all "))
        #expect(run.stdout.contains("\n  quit, exit "))
        #expect(!run.stdout.contains("\n  serve "))
    }

    @Test func helpForACommandIsTheCLIsHelp() {
        let run = repl(["help push", "push --help"])

        let expected = imctl(["help", "push"]).stdout
        #expect(run.stdout == expected + expected)
    }

    @Test func theReplsLogicIsEveryCommandsDefaultAndALineMayOverrideIt() throws {
        let target = try FakeLogic { _ in Self.ok }
        let other = try FakeLogic { _ in Self.ok }

        let run = repl(["push-all a", "push-all b --logic \(other.url)"], logic: target.url)

        #expect(run.status == 0)
        #expect(target.requests.map(\.body) == [Array("a".utf8)])
        #expect(other.requests.map(\.body) == [Array("b".utf8)])
    }

    @Test func promptNamesTheTarget() {
        let settings = ReplSession.Settings(
            logic: "http://127.0.0.1:7172", environment: [:], stdout: CapturedOutput(),
            stderr: CapturedOutput())

        #expect(ReplSession(settings, stop: StopSignal()).prompt == "imctl 127.0.0.1:7172> ")
        #expect(ReplSession.target(of: "http://logic.example") == "logic.example:80")
        #expect(ReplSession.target(of: "http://[::1]:9000/api") == "[::1]:9000")
        #expect(ReplSession.target(of: "not a url") == "not a url")
    }

    @Test func overlongLineIsSkippedWithAnError() {
        let long = String(repeating: "x", count: Repl.maxLineLength + 1)

        let run = repl(["push-all \(long)", "version"])

        #expect(run.status == 1)
        #expect(run.stderr == "Error: a line is longer than 1MiB; skipped\n")
        #expect(run.stdout == "imctl \(IMCommandLine.version)\n")
    }

    @Test func clientConnectRunsUntilStoppedThenTheNextLineRuns() throws {
        let stop = StopSignal()
        let comet = try FakeServer { connection in
            guard let auth = connection.readFrame() else { return }
            connection.write(auth.reply(op: Operation.authReply).encoded)
            connection.write(Frame.push(Array("pushed".utf8)).encoded)
            _ = connection.readFrame()  // a heartbeat: the client read everything before it
            stop.trigger()
        }

        let run = repl(
            [
                "client connect --token 1 --heartbeat 10ms --tcp 127.0.0.1:\(comet.port)",
                "version",
            ], stop: stop)

        #expect(run.status == 0)
        #expect(run.stdout == "pushed\nimctl \(IMCommandLine.version)\n")
        #expect(run.stderr == "authenticated\n")
    }

    // MARK: - Through IMCommandLine.run

    @Test func bareImctlOnAPipeReadsCommandsFromIt() {
        let result = imctl([], stdin: Array("version\nbogus\n".utf8))

        #expect(result.status == 1)
        #expect(result.stdout == "imctl \(IMCommandLine.version)\n")
        #expect(result.stderr.hasPrefix("Error: unknown command 'bogus'"))
    }

    @Test func replCommandTakesItsLogicFromTheFlag() throws {
        let logic = try FakeLogic { _ in Self.ok }

        let result = imctl(["repl", "--logic", logic.url], stdin: Array("push-all x\r\n".utf8))

        #expect(result.status == 0)
        #expect(result.stdout == "ok\n")
        #expect(logic.requests.map(\.body) == [Array("x".utf8)])
    }

    @Test func replInsideTheReplIsRefused() {
        let result = imctl(["repl"], stdin: Array("repl\n".utf8))

        #expect(result.status == 1)
        #expect(result.stderr == "Error: already in the REPL\n")
    }

    // MARK: - History

    @Test func interactiveLinesAreRecordedExceptSecretsAndSpaceLines() throws {
        let directory = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.path + "/state/imctl/history"

        let run = repl(
            [
                "version", " version", "client connect --token secret --tcp 127.0.0.1:1",
                "version", "count room --logic http://127.0.0.1:1", "quit",
            ], interactive: true, history: ReplHistory(path: path))

        #expect(run.status == 0)  // interactive: failures were shown, not returned
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == "version\ncount room --logic http://127.0.0.1:1\nquit\n")
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect(attributes[.posixPermissions] as? Int == 0o600)
    }

    @Test func pipedLinesAreNotRecorded() throws {
        let directory = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.path + "/history"

        _ = repl(["version"], history: ReplHistory(path: path))

        #expect(!FileManager.default.fileExists(atPath: path))
    }
}

/// `DescriptorLines` reading a real pipe (written here, no child process).
@Suite struct DescriptorLinesTests {
    private func lines(from bytes: [UInt8]) -> [ReplRead] {
        var ends: [Int32] = [-1, -1]
        _ = ends.withUnsafeMutableBufferPointer { pipe($0.baseAddress) }
        let (readEnd, writeEnd) = (ends[0], ends[1])
        let writer = Thread {
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = write(writeEnd, raw.baseAddress! + offset, raw.count - offset)
                    guard written > 0 else { break }
                    offset += written
                }
            }
            close(writeEnd)
        }
        writer.start()
        defer { close(readEnd) }

        var source = DescriptorLines(fd: readEnd, interrupts: nil)
        var reads: [ReplRead] = []
        while reads.count < 100 {
            let read = source.read(prompt: "ignored> ")
            reads.append(read)
            if read == .end { break }
        }
        return reads
    }

    @Test func splitsLinesAndDropsCarriageReturns() {
        let reads = lines(from: Array("version\r\ncount room\nlast without newline".utf8))

        #expect(reads == [
            .line("version"), .line("count room"), .line("last without newline"), .end,
        ])
    }

    @Test func skipsAnOverlongLineAndGoesOn() {
        let long = [UInt8](repeating: UInt8(ascii: "x"), count: Repl.maxLineLength * 2 + 10)
        let reads = lines(from: Array("first\n".utf8) + long + Array("\nafter\n".utf8))

        #expect(reads == [.line("first"), .tooLong, .line("after"), .end])
    }

    @Test func emptyInputEndsAtOnce() {
        #expect(lines(from: []) == [.end])
    }
}
