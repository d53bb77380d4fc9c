import Testing

@testable import IMCLI

@Suite struct CommandCompleterTests {
    let completer = CommandCompleter()

    private func offer(_ line: String) -> CommandCompleter.Offer {
        var words = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        let prefix = words.removeLast()
        return completer.offer(after: words, prefix: prefix)
    }

    @Test func offersTopLevelCommandsButNotHiddenOnes() {
        #expect(offer("pu") == .words(["push", "pushs", "push-all", "push-room"]))
        guard case .words(let all) = offer("") else {
            Issue.record("expected words")
            return
        }
        #expect(all.contains("serve") && all.contains("repl"))
        #expect(!all.contains("generate"))
    }

    @Test func offersSubcommandsOfAGroup() {
        #expect(offer("serve ") == .words(["all", "comet", "logic", "router", "job"]))
        #expect(offer("client c") == .words(["connect"]))
    }

    @Test func offersTheOptionsOfTheCommand() {
        #expect(offer("push --uid 1 --") == .words(["--uid", "--logic", "--json", "--help"]))
        #expect(offer("client connect --t") == .words(["--token", "--tcp", "--tls-ca"]))
    }

    @Test func offersOptionValuesByKind() {
        #expect(offer("serve all --log-level w") == .words(["warning"]))
        #expect(offer("serve all --config ") == .files)
        #expect(offer("push --uid ") == .nothing)
        #expect(offer("push-all --logic ") == .nothing)
    }

    @Test func readsTheValueAfterAnEqualsSign() {
        let levels = ["trace", "debug", "info", "warning", "error"]
        #expect(offer("serve all --log-level= ") == .words(levels))
        #expect(offer("serve all --log-level=debug --pr") == .words(["--print-config"]))
    }

    @Test func offersPositionalsByKind() {
        #expect(offer("count ") == .words(["room", "server"]))
        #expect(offer("count --logic http://h:1 s") == .words(["server"]))
        #expect(offer("count room ") == .nothing)
        #expect(offer("push-all ") == .nothing)
    }

    @Test func helpCompletesCommandPaths() {
        #expect(offer("help pu") == .words(["push", "pushs", "push-all", "push-room"]))
        #expect(offer("help serve a") == .words(["all"]))
    }

    @Test func wordsAfterDoubleDashAreNeverOptions() {
        #expect(offer("push-all -- --") == .nothing)
    }

    @Test func replLeavesOutRefusedCommandsAndOffersQuitWords() {
        #expect(ReplSession.completions(before: "", prefix: "se") == .words(["server-del"]))
        #expect(ReplSession.completions(before: "", prefix: "q") == .words(["quit"]))
        #expect(ReplSession.completions(before: "", prefix: "re") == .words([]))
    }

    @Test func replCompletionUsesTheShellQuoting() {
        let offer = ReplSession.completions(before: "push-all 'two words' ", prefix: "--j")
        #expect(offer == .words(["--json"]))
        #expect(ReplSession.completions(before: "push-all 'open ", prefix: "--j") == .nothing)
        #expect(ReplSession.completions(before: "imctl count ", prefix: "r") == .words(["room"]))
    }
}
