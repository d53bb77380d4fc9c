import Testing

@testable import IMCLI

@Suite struct HelpRendererTests {
    @Test(arguments: CommandTree.allPaths)
    func helpCommandPrintsExactlyWhatHelpFlagPrints(path: [String]) {
        let viaCommand = imctl(["help"] + path)
        let viaFlag = imctl(path + ["--help"])
        let viaShortFlag = imctl(path + ["-h"])

        #expect(viaCommand.status == 0)
        #expect(viaFlag.status == 0)
        #expect(viaCommand.stdout == viaFlag.stdout)
        #expect(viaShortFlag.stdout == viaFlag.stdout)
        #expect(viaFlag.stderr.isEmpty)
    }

    @Test(arguments: CommandTree.allPaths)
    func everyCommandHasAnAbstractAndRendersAllSections(path: [String]) {
        let command = CommandTree.command(at: path)!
        let text = HelpRenderer().help(for: command, path: path)

        #expect(!command.abstract.isEmpty)
        #expect(text.hasPrefix("OVERVIEW: \(command.abstract)\n"))
        #expect(text.contains("\nUSAGE: imctl"))
        #expect(text.contains("\nOPTIONS:\n") == !command.options.isEmpty)
        #expect(text.contains("\nARGUMENTS:\n") == !command.arguments.isEmpty)
        #expect(text.contains("\nSUBCOMMANDS:\n") == !command.subcommands.isEmpty)
        for option in command.options {
            #expect(!option.abstract.isEmpty, "\(path) --\(option.long)")
            #expect(text.contains(option.helpLabel), "\(path) --\(option.long)")
        }
    }

    @Test func everyLineFitsTheWidthUnlessOneWordIsLonger() {
        for width in [40, 80, 120] {
            for path in CommandTree.allPaths {
                let text = HelpRenderer(width: width).help(for: CommandTree.command(at: path)!, path: path)
                for line in text.split(separator: "\n") where line.count > width {
                    // Only an unbreakable word may overflow: alone, or alone in the text column.
                    let words = line.split(separator: " ")
                    let overflowsByOneWord = words.count == 1
                        || words.last!.count > width - HelpRenderer.gutter
                    #expect(overflowsByOneWord, "\(path) at \(width): \(line)")
                }
            }
        }
    }

    @Test func pushHelpHasArgumentParsersShape() {
        let text = imctl(["push", "--help"]).stdout

        #expect(
            text == """
                OVERVIEW: Push a message to every session of one user.

                Calls POST /1/push?uid=UID with the message as the body.

                USAGE: imctl push --uid <uid> [--logic <url>] [--json] [<message>]

                ARGUMENTS:
                  <message>               The message bytes, sent unchanged. '-' reads standard
                                          input to its end, as does leaving it out when standard
                                          input is not a terminal.

                OPTIONS:
                  --uid <uid>             The user id (mid) to push to.
                  --logic <url>           Logic's HTTP address. (default: http://127.0.0.1:7172;
                                          env: IMCTL_LOGIC)
                  --json                  Print logic's JSON response as it was received.
                  -h, --help              Show help information.

                """)
    }

    @Test func rootHelpListsEveryCommandAndTheFooter() {
        let text = imctl(["--help"]).stdout

        for command in CommandTree.root.subcommands {
            let isListed = text.contains("\n  \(command.name) ")
            #expect(isListed == !command.isHidden, "\(command.name)")
        }
        #expect(text.hasSuffix("\n\n  See 'imctl help <subcommand>' for detailed help.\n"))
    }

    @Test func longLabelsPutTheirTextOnTheNextLine() {
        let text = imctl(["serve", "all", "--help"]).stdout

        #expect(
            text.contains(
                """
                  --handshake-timeout <duration>
                                          How long a new connection may take to authenticate.
                """))
        #expect(text.contains("  --http-max-body <size>  The largest HTTP request body"))
    }

    @Test func serveHelpShowsDefaultsAndEnvironmentNames() {
        let text = imctl(["serve", "all", "--help"], environment: ["COLUMNS": "200"]).stdout

        #expect(text.contains("(default: 0.0.0.0:8080; env: IMCTL_TCP)"))
        #expect(text.contains("(default: 5m; env: IMCTL_HEARTBEAT_TIMEOUT)"))
        #expect(
            text.contains(
                "(values: trace, debug, info, warning, error; default: info; env: IMCTL_LOG_LEVEL)"))
    }

    @Test func columnsSetsTheWrapWidth() {
        let narrow = imctl(["push", "--help"], environment: ["COLUMNS": "60"]).stdout
        let lines = narrow.split(separator: "\n")

        #expect(lines.allSatisfy { $0.count <= 60 })
        #expect(narrow != imctl(["push", "--help"]).stdout)
    }
}
