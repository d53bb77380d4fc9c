import Foundation
import Testing

@testable import IMCLI

@Suite struct ReplHistoryTests {
    private func permissions(_ path: String) throws -> Int? {
        try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
    }

    @Test func locationFollowsTheOverrideThenXDGThenHome() {
        let everything = [
            "IMCTL_HISTFILE": "/tmp/h", "XDG_STATE_HOME": "/state", "HOME": "/home/u",
        ]
        #expect(ReplHistory.location(environment: everything) == "/tmp/h")
        #expect(
            ReplHistory.location(environment: ["XDG_STATE_HOME": "/state", "HOME": "/home/u"])
                == "/state/imctl/history")
        #expect(ReplHistory.location(environment: ["HOME": "/home/u"]) == "/home/u/.imctl_history")
        #expect(
            ReplHistory.location(environment: ["XDG_STATE_HOME": "relative", "HOME": "/home/u"])
                == "/home/u/.imctl_history")
    }

    @Test func devNullOrNoHomeMeansNoHistory() {
        #expect(ReplHistory(environment: ["IMCTL_HISTFILE": "/dev/null", "HOME": "/h"]) == nil)
        #expect(ReplHistory(environment: [:]) == nil)
    }

    @Test(arguments: [
        ("push-all hello", true),
        (" push-all hello", false),
        ("client connect --token secret", false),
        ("client connect --token=secret", false),
        ("", false),
        ("   ", false),
        ("count room", false),  // the previous line
    ])
    func recordsOnlyOrdinaryNewLines(line: String, recorded: Bool) {
        #expect(ReplHistory.shouldRecord(line, previous: "count room") == recorded)
    }

    @Test func appendCreatesTheDirectoryAndAPrivateFile() throws {
        let directory = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let history = ReplHistory(path: directory.path + "/a/b/history")

        try history.append("version")
        try history.append("count room")

        #expect(try permissions(history.path) == 0o600)
        #expect(try permissions(directory.path + "/a/b") == 0o700)
        #expect(history.load() == ["version", "count room"])
    }

    @Test func anExistingReadableFileIsMadePrivate() throws {
        let directory = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.path + "/history"
        _ = FileManager.default.createFile(
            atPath: path, contents: Data("old\n".utf8), attributes: [.posixPermissions: 0o644])

        try ReplHistory(path: path).append("new")

        #expect(try permissions(path) == 0o600)
        #expect(ReplHistory(path: path).load() == ["old", "new"])
    }

    @Test func loadKeepsTheLastLinesAndShortensTheFile() throws {
        let directory = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let history = ReplHistory(path: directory.path + "/history", limit: 3)
        for number in 1...5 { try history.append("line \(number)") }

        #expect(history.load() == ["line 3", "line 4", "line 5"])
        let text = try String(contentsOfFile: history.path, encoding: .utf8)
        #expect(text == "line 3\nline 4\nline 5\n")
    }

    @Test func aMissingFileIsAnEmptyHistory() {
        #expect(ReplHistory(path: "/nonexistent/imctl/history").load().isEmpty)
    }

    @Test func anUnwritableLocationIsAnError() {
        #expect(throws: HistoryError.self) {
            try ReplHistory(path: "/proc/imctl-cannot-write/history").append("x")
        }
    }
}
