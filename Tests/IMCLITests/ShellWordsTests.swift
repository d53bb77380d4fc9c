import Testing

@testable import IMCLI

@Suite struct ShellWordsTests {
    @Test(arguments: [
        ("push --uid 1 hello", ["push", "--uid", "1", "hello"]),
        ("  push\t --uid   1  ", ["push", "--uid", "1"]),
        ("push-all 'two words'", ["push-all", "two words"]),
        ("push-all 'a \"b\" \\c'", ["push-all", "a \"b\" \\c"]),
        ("push-all \"say \\\"hi\\\"\"", ["push-all", "say \"hi\""]),
        ("push-all \"back\\\\slash \\$HOME \\`x\\`\"", ["push-all", "back\\slash $HOME `x`"]),
        ("push-all \"keeps \\n as is\"", ["push-all", "keeps \\n as is"]),
        ("push-all two\\ words", ["push-all", "two words"]),
        ("push-all \\'quote", ["push-all", "'quote"]),
        ("pushs '{\"m\":1}'x\"y\"", ["pushs", "{\"m\":1}xy"]),
        ("push-all '' \"\"", ["push-all", "", ""]),
        ("push-all #not-a-comment", ["push-all", "#not-a-comment"]),
        ("push-all héllo 'wörld'", ["push-all", "héllo", "wörld"]),
        ("", []),
    ])
    func splitsLikeAPOSIXShell(line: String, words: [String]) throws {
        #expect(try ShellWords.split(line) == words)
    }

    @Test(arguments: [
        ("push-all 'oops", "unterminated single quote"),
        ("push-all \"oops", "unterminated double quote"),
        ("push-all \"ends with \\", "unterminated double quote"),
        ("push-all oops\\", "the line ends with a backslash"),
    ])
    func unfinishedQuotingIsAnError(line: String, message: String) {
        #expect(throws: ShellWords.SplitError(message: message)) {
            try ShellWords.split(line)
        }
    }
}
