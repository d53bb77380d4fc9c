import Testing

@testable import IMCLI

@Suite struct CommandLineTests {
    @Test func usageErrorPrintsErrorUsageAndHintAndExits64() {
        let result = imctl(["push", "--uid", "1", "--bogus", "x"])

        #expect(result.status == 64)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr == """
                Error: unknown option '--bogus'
                Usage: imctl push --uid <uid> [--logic <url>] [--json] [<message>]
                See 'imctl push --help'.

                """)
    }

    @Test func unknownTopLevelCommandPointsAtRootHelp() {
        let result = imctl(["pussh"])

        #expect(result.status == 64)
        #expect(
            result.stderr == """
                Error: unknown command 'pussh' (did you mean 'push'?)
                Usage: imctl <subcommand>
                See 'imctl --help'.

                """)
    }

    @Test func nestedUsageErrorNamesTheNestedCommand() {
        let result = imctl(["serve", "all", "--loops"])

        #expect(result.status == 64)
        #expect(
            result.stderr == """
                Error: missing value for option '--loops'
                Usage: imctl serve all [<options>]
                See 'imctl serve all --help'.

                """)
    }

    @Test func bareImctlWithoutATerminalRunsTheCommandsOnStandardInput() {
        let result = imctl([], stdin: Array("--help\n".utf8))

        #expect(result.status == 0)
        #expect(result.stdout == imctl(["--help"]).stdout)
        #expect(result.stdout.hasPrefix("OVERVIEW: "))
    }

    @Test func versionFlagAndCommandAgree() {
        let flag = imctl(["--version"])
        let command = imctl(["version"])

        #expect(flag.status == 0)
        #expect(flag.stdout == "imctl \(IMCommandLine.version)\n")
        #expect(command.stdout == flag.stdout)
    }

    @Test(arguments: ["comet", "logic", "router", "job"])
    func distributedRolesPrintTheirConfiguration(role: String) {
        let result = imctl(["serve", role, "--print-config"])

        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        #expect(result.stdout.hasSuffix("loops = 0\nlog-level = info\n"))
    }

    @Test func helpForAnUnknownCommandIsAUsageError() {
        let result = imctl(["help", "nope"])

        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("Error: unknown command 'nope'\n"))
    }

    @Test func everyRunnableCommandHasAHandler() {
        for path in CommandTree.allPaths {
            let command = CommandTree.command(at: path)!
            guard command.subcommands.isEmpty else { continue }
            #expect(CommandHandlers.table[path.joined(separator: " ")] != nil, "\(path)")
        }
    }

    @Test func everyHandlerIsForACommandInTheTree() {
        for key in CommandHandlers.table.keys {
            let path = key.split(separator: " ").map(String.init)
            #expect(CommandTree.command(at: path) != nil, "\(key)")
        }
    }
}
