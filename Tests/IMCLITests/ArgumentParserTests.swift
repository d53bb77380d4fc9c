import Testing

@testable import IMCLI

@Suite struct ArgumentParserTests {
    let parser = ArgumentParser()

    @Test func optionsMayComeBeforeOrAfterPositionals() throws {
        let before = try parser.parse(["push", "--uid", "1", "hello", "--logic", "http://h:1"])
        let after = try parser.parse(["push", "hello", "--uid", "1"])

        #expect(before.path == ["push"])
        #expect(before.values == ["uid": "1", "logic": "http://h:1"])
        #expect(before.positionals == ["hello"])
        #expect(after.values == ["uid": "1"])
        #expect(after.argument("message") == "hello")
    }

    @Test func equalsFormGivesTheValue() throws {
        let parsed = try parser.parse(["push", "--uid=42", "--logic=http://x:7/base", "m"])

        #expect(parsed.values["uid"] == "42")
        #expect(parsed.values["logic"] == "http://x:7/base")
    }

    @Test func doubleDashEndsOptions() throws {
        let parsed = try parser.parse(["push", "--uid", "1", "--", "--json"])

        #expect(parsed.flags.isEmpty)
        #expect(parsed.argument("message") == "--json")
    }

    @Test func singleDashIsAPositional() throws {
        let parsed = try parser.parse(["push", "-", "--uid", "1"])

        #expect(parsed.argument("message") == "-")
    }

    @Test func negativeNumbersAreValuesNotOptions() throws {
        let parsed = try parser.parse(["push-room", "--room", "-1", "-5"])

        #expect(parsed.values["room"] == "-1")
        #expect(parsed.argument("message") == "-5")
    }

    @Test func lastValueOfARepeatedOptionWins() throws {
        let parsed = try parser.parse(["push", "--uid", "1", "--uid", "2", "m"])

        #expect(parsed.values["uid"] == "2")
    }

    @Test func subcommandWordsSelectNestedCommands() throws {
        let parsed = try parser.parse(["serve", "all", "--tcp", "127.0.0.1:0"])

        #expect(parsed.path == ["serve", "all"])
        #expect(parsed.values["tcp"] == "127.0.0.1:0")
    }

    @Test func helpAnywhereSkipsValidation() throws {
        let parsed = try parser.parse(["push", "--bogus", "--help"])

        #expect(parsed.wantsHelp)
        #expect(parsed.path == ["push"])
    }

    @Test func helpAfterDoubleDashIsAPositional() throws {
        let parsed = try parser.parse(["push", "--uid", "1", "--", "--help"])

        #expect(!parsed.wantsHelp)
        #expect(parsed.argument("message") == "--help")
    }

    @Test func repeatingArgumentTakesTheRest() throws {
        let parsed = try parser.parse(["help", "serve", "all"])

        #expect(parsed.arguments(from: "command") == ["serve", "all"])
    }

    @Test(arguments: [
        (["push", "--uid", "1", "--bogus"], "unknown option '--bogus'"),
        (["push", "--uid", "1", "--jsn"], "unknown option '--jsn' (did you mean '--json'?)"),
        (["push", "--uid"], "missing value for option '--uid'"),
        (["push", "--uid", "--json"], "missing value for option '--uid'"),
        (["push", "--uid", "abc"], "invalid value 'abc' for option '--uid': expected an integer"),
        (["push", "--uid", "1", "a", "b"], "unexpected argument 'b'"),
        (["push", "hello"], "missing required option '--uid <uid>'"),
        (["push", "--json=yes", "--uid", "1"], "option '--json' does not take a value"),
        (["count"], "missing argument '<type>'"),
        (["count", "user"], "invalid value 'user' for '<type>': expected one of room, server"),
        (["serve"], "missing subcommand (one of: all, comet, logic, router, job)"),
        (["serve", "al"], "unknown command 'al' (did you mean 'all'?)"),
        (["serve", "all", "--loops", "many"],
         "invalid value 'many' for option '--loops': expected an integer"),
        (["serve", "all", "--heartbeat-timeout", "5"],
         "invalid value '5' for option '--heartbeat-timeout': expected a duration such as 500ms, 5s or 1m30s"),
        (["serve", "all", "--tcp", "8080"], "invalid value '8080' for option '--tcp': expected HOST:PORT"),
        (["push", "-x", "--uid", "1"], "unknown option '-x'"),
        (["serve", "all", "--heartbeat-timeout", "-1m"],
         "invalid value '-1m' for option '--heartbeat-timeout': expected a duration such as 500ms, 5s or 1m30s"),
    ])
    func usageErrorsSayWhatIsWrong(arguments: [String], message: String) {
        do {
            let parsed = try parser.parse(arguments)
            Issue.record("expected a usage error, got \(parsed.path)")
        } catch {
            #expect(error.message == message)
        }
    }
}
