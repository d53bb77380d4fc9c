import Foundation
import IMTestKit
import Testing

@testable import IMCLI

/// The completion scripts loaded into the real shells: bash, zsh and fish (a missing shell
/// fails its test; see `ExternalTool`).
@Suite struct CompletionScriptTests {
    /// The script for `shell` written to a fresh file.
    private func scriptFile(_ shell: CompletionRenderer.Shell) throws -> URL {
        let url = try ToolRunner.temporaryDirectory().appendingPathComponent(shell.fileName)
        try Data(CompletionRenderer().script(for: shell).utf8).write(to: url)
        return url
    }

    private func removeDirectory(of url: URL) {
        try? FileManager.default.removeItem(at: url.deletingLastPathComponent())
    }

    /// Each case: the command line up to the cursor, and the completions bash should offer.
    static let bashCases: [(line: String, expected: [String])] = [
        ("imctl pu", ["push", "pushs", "push-all", "push-room"]),
        ("imctl serve ", ["all", "comet", "logic", "router", "job"]),
        ("imctl serve all --log-level ", ["trace", "debug", "info", "warning", "error"]),
        ("imctl serve all --log-level=w", ["warning"]),
        ("imctl serve all --tcp 127.0.0.1:80 --print", ["--print-config"]),
        ("imctl count ", ["room", "server"]),
        ("imctl count --logic http://127.0.0.1:7172 s", ["server"]),
        ("imctl count room ", []),
        ("imctl push --uid ", []),
        ("imctl push --uid 5 --j", ["--json"]),
        ("imctl push-all 'a message' ", []),
        ("imctl client connect --t", ["--token", "--tcp", "--tls-ca"]),
        ("imctl help serve a", ["all"]),
        ("imctl gen", []),
    ]

    /// A bash program that completes `line` the way bash does on Tab: COMP_WORDS split at
    /// blanks and COMP_WORDBREAKS characters, then `_imctl`.
    private static func bashProgram(script: String) -> String {
        let calls = bashCases.map { "complete_line \(shellQuoted($0.line))" }
        return """
            source \(shellQuoted(script)) || exit 3
            complete -p imctl || exit 4
            complete_line() {
                COMP_LINE=$1 COMP_POINT=${#1} COMP_WORDS=() COMPREPLY=()
                local rest=$1 word=''
                while [[ -n $rest ]]; do
                    local char=${rest:0:1}
                    rest=${rest:1}
                    if [[ $char == ' ' ]]; then
                        [[ -n $word ]] && COMP_WORDS+=("$word")
                        word=''
                    elif [[ $char == [=:] ]]; then
                        [[ -n $word ]] && COMP_WORDS+=("$word")
                        COMP_WORDS+=("$char")
                        word=''
                    else
                        word+=$char
                    fi
                done
                COMP_WORDS+=("$word")
                COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
                _imctl
                printf '%s|' "${COMPREPLY[@]}"
                printf '\\n'
            }
            \(calls.joined(separator: "\n"))
            """
    }

    static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    @Test func bashLoadsTheScriptAndCompletesFromTheTree() throws {
        let script = try scriptFile(.bash)
        defer { removeDirectory(of: script) }

        let result = try ToolRunner.run(
            "bash", ["--norc", "--noprofile", "-c", Self.bashProgram(script: script.path)])

        #expect(result.status == 0)
        #expect(result.stderr == "")
        var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.removeFirst() == "complete -F _imctl imctl")
        for (index, testCase) in Self.bashCases.enumerated() {
            let offered = index < lines.count
                ? lines[index].split(separator: "|").map(String.init) : ["<missing>"]
            #expect(offered == testCase.expected, "\(testCase.line)")
        }
    }

    @Test func bashCompletesFilesForAFileValue() throws {
        let script = try scriptFile(.bash)
        defer { removeDirectory(of: script) }
        let directory = script.deletingLastPathComponent().path
        _ = FileManager.default.createFile(atPath: directory + "/settings.conf", contents: nil)

        let program = """
            source \(Self.shellQuoted(script.path))
            cd \(Self.shellQuoted(directory))
            COMP_LINE='imctl serve all --config set' COMP_POINT=28
            COMP_WORDS=(imctl serve all --config set) COMP_CWORD=4
            _imctl
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let result = try ToolRunner.run("bash", ["--norc", "--noprofile", "-c", program])

        #expect(result.stdout == "settings.conf\n")
    }

    @Test(.enabled(if: ExternalTool.shouldRun(whenAvailable: ToolRunner.isInstalled("zsh"))))
    func zshLoadsTheScriptWithoutErrors() throws {
        try #require(ToolRunner.isInstalled("zsh"), "\(ExternalTool.missing("zsh"))")
        let script = try scriptFile(.zsh)
        defer { removeDirectory(of: script) }
        let dump = script.deletingLastPathComponent().path + "/zcompdump"

        let program = """
            autoload -U compinit && compinit -u -d \(Self.shellQuoted(dump)) && \
            source \(Self.shellQuoted(script.path)) && print -r -- $_comps[imctl] && \
            (( $+functions[_imctl_serve_all] )) && print loaded
            """
        let result = try ToolRunner.run("zsh", ["-f", "-c", program])

        #expect(result.status == 0)
        #expect(result.stderr == "")
        #expect(result.stdout == "_imctl\nloaded\n")
    }

    @Test(.enabled(if: ExternalTool.shouldRun(whenAvailable: ToolRunner.isInstalled("fish"))))
    func fishLoadsTheScriptAndCompletes() throws {
        try #require(ToolRunner.isInstalled("fish"), "\(ExternalTool.missing("fish"))")
        let script = try scriptFile(.fish)
        defer { removeDirectory(of: script) }
        let home = script.deletingLastPathComponent().path

        let program = """
            source \(Self.shellQuoted(script.path)); or exit 3
            complete -C 'imctl pu'; echo ==
            complete -C 'imctl serve all --log-level '; echo ==
            complete -C 'imctl count '; echo ==
            complete -C 'imctl push --uid '; echo ==
            complete -C 'imctl client connect --t'
            """
        let result = try ToolRunner.run(
            "fish", ["--no-config", "-c", program],
            environment: ["HOME": home, "XDG_CONFIG_HOME": home, "XDG_DATA_HOME": home])

        #expect(result.status == 0)
        #expect(result.stderr == "")
        let groups = result.stdout.components(separatedBy: "==\n").map { group in
            group.split(separator: "\n").map { String($0.prefix { $0 != "\t" }) }
        }
        #expect(groups.count == 5)
        guard groups.count == 5 else { return }
        #expect(groups[0] == ["push", "pushs", "push-all", "push-room"])
        #expect(Set(groups[1]) == ["trace", "debug", "info", "warning", "error"])
        #expect(groups[2] == ["room", "server"])
        #expect(groups[3].isEmpty)
        #expect(Set(groups[4]) == ["--token", "--tcp", "--tls-ca"])
    }
}
