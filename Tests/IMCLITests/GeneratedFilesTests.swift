import Foundation
import Testing

@testable import IMCLI

/// The man pages under `man/` and the scripts under `completions/` are what the command tree
/// renders now. `RECORD_SNAPSHOTS=1 swift test --filter GeneratedFilesTests` rewrites them
/// (as does `imctl generate`, see docs/cli.md).
@Suite struct GeneratedFilesTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let staleHint =
        "differs from the tree: RECORD_SNAPSHOTS=1 swift test --filter GeneratedFilesTests"

    static var recording: Bool {
        ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1"
    }

    static var expectedFiles: [(directory: String, name: String, text: String)] {
        let pages = ManPageRenderer().pages().map { ("man", $0.fileName, $0.text) }
        let scripts = CompletionRenderer.Shell.allCases.map { shell in
            ("completions", shell.fileName, CompletionRenderer().script(for: shell))
        }
        return pages + scripts
    }

    @Test func checkedInFilesMatchTheCommandTree() throws {
        for file in Self.expectedFiles {
            let url = Self.repositoryRoot.appendingPathComponent("\(file.directory)/\(file.name)")
            if Self.recording {
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(file.text.utf8).write(to: url)
                continue
            }
            let checkedIn = try? String(contentsOf: url, encoding: .utf8)
            #expect(checkedIn == file.text, "\(file.directory)/\(file.name) \(Self.staleHint)")
        }
    }

    @Test func noStaleManPageIsLeftBehind() throws {
        let directory = Self.repositoryRoot.appendingPathComponent("man")
        let present = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".1") }
        let expected = ManPageRenderer().pages().map(\.fileName)

        #expect(Set(present) == Set(expected))
    }

    @Test func generateCommandPrintsWhatTheRenderersMake() {
        let bash = imctl(["generate", "completion", "bash"])
        let page = imctl(["generate", "man", "push"])
        let root = imctl(["generate", "man"])

        #expect(bash.status == 0)
        #expect(bash.stdout == CompletionRenderer().script(for: .bash))
        #expect(page.stdout == ManPageRenderer().page(for: ["push"]).text)
        #expect(root.stdout == ManPageRenderer().page(for: []).text)
    }

    @Test func generateCommandWritesEveryFileWithOutput() throws {
        let directory = try ToolRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }

        let man = imctl(["generate", "man", "--output", directory.path + "/man"])
        let fish = imctl(["generate", "completion", "fish", "--output", directory.path])

        #expect(man.status == 0 && fish.status == 0)
        let pages = try FileManager.default.contentsOfDirectory(atPath: directory.path + "/man")
        #expect(Set(pages) == Set(ManPageRenderer().pages().map(\.fileName)))
        let script = try String(contentsOfFile: directory.path + "/imctl.fish", encoding: .utf8)
        #expect(script == CompletionRenderer().script(for: .fish))
    }

    @Test func generateRejectsUnknownTargets() {
        #expect(imctl(["generate", "man", "nope"]).status == 64)
        #expect(imctl(["generate", "man", "generate"]).status == 64)
        #expect(imctl(["generate", "completion", "tcsh"]).status == 64)
    }

    @Test func generateIsHiddenFromHelp() {
        let help = imctl(["--help"]).stdout

        #expect(!help.contains("generate"))
        #expect(imctl(["generate", "--help"]).status == 0)
    }
}
