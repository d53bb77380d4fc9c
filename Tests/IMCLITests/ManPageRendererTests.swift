import IMTestKit
import Testing

@testable import IMCLI

@Suite struct ManPageRendererTests {
    static let pages = ManPageRenderer().pages()

    @Test func thereIsAPageForImctlAndEachVisibleCommand() {
        let names = Self.pages.map(\.fileName)

        #expect(names.first == "imctl.1")
        for command in CommandTree.root.subcommands {
            let hasPage = names.contains("imctl-\(command.name).1")
            #expect(hasPage == !command.isHidden, "\(command.name)")
        }
    }

    @Test(arguments: pages)
    func everyPageHasTheStandardSections(page: ManPageRenderer.Page) {
        let sections = ["NAME", "SYNOPSIS", "DESCRIPTION", "ENVIRONMENT", "EXIT STATUS", "SEE ALSO"]
        for section in sections {
            #expect(page.text.contains("\n.Sh \(section)\n"), "\(page.fileName): \(section)")
        }
        #expect(page.text.contains("\n.It 64\n"))
    }

    @Test func optionsShowTheirDefaultsAndEnvironment() {
        let page = ManPageRenderer().page(for: ["push"]).text

        #expect(page.contains(".It Fl \\-logic Ar \\&url\nLogic's HTTP address.\n"))
        #expect(page.contains("Default:\n.Ql \\&http://127.0.0.1:7172 .\n"))
        #expect(page.contains("Environment:\n.Ev \\&IMCTL_LOGIC .\n"))
        #expect(page.contains(".Fl \\-uid Ar \\&uid\n.Op Fl \\-logic"))
    }

    @Test func groupPagesDescribeEachSubcommand() {
        let page = ManPageRenderer().page(for: ["serve"]).text

        #expect(page.contains(".Nm imctl serve all\n"))
        #expect(page.contains("\n.Ss imctl serve all\n"))
        #expect(page.contains("\n.It Fl \\-log-level Ar \\&level\n"))
        #expect(page.contains(".Cm \\&trace , \\&debug , \\&info , \\&warning , \\&error ."))
    }

    @Test func textIsOneSentencePerLineWithControlCharactersEscaped() {
        #expect(
            ManPageRenderer.text("'serve all' runs. Next sentence here.")
                == ["\\&'serve all' runs.", "Next sentence here."])
        #expect(
            ManPageRenderer.text(".dot leads and back\\slash --flag x-y.")
                == ["\\&.dot leads and back\\eslash \\%\\-\\-flag x-y."])
    }

    @Test func replPageListsTheHistoryFilesAndExitStatus130() {
        let page = ManPageRenderer().page(for: ["repl"]).text

        #expect(page.contains(".Sh FILES\n"))
        #expect(page.contains(".It Pa \\&~/.imctl_history\n"))
        #expect(page.contains(".It Ev \\&IMCTL_HISTFILE\n"))
        #expect(page.contains(".It 130\n"))
        #expect(page.contains(".Xr editrc 5"))
    }

    @Test(
        .enabled(if: ExternalTool.shouldRun(whenAvailable: ToolRunner.isInstalled("groff"))),
        arguments: pages)
    func groffRendersEveryPageWithoutWarnings(page: ManPageRenderer.Page) throws {
        try #require(ToolRunner.isInstalled("groff"), "\(ExternalTool.missing("groff"))")
        let check = try ToolRunner.run("groff", ["-mdoc", "-ww", "-z"], stdin: page.text)
        let rendered = try ToolRunner.run("groff", ["-mdoc", "-ww", "-Tutf8"], stdin: page.text)

        #expect(check.status == 0)
        #expect(check.stderr == "", "\(page.fileName)")
        #expect(rendered.stderr == "", "\(page.fileName)")
        #expect(Self.withoutOverstriking(rendered.stdout).contains("\nSYNOPSIS\n"))
    }

    /// grotty's text without its bold and underline (`X\bX`, `_\bX`).
    private static func withoutOverstriking(_ text: String) -> String {
        var plain: [Character] = []
        for character in text {
            if character == "\u{8}" { _ = plain.popLast() } else { plain.append(character) }
        }
        return String(plain)
    }
}

extension ManPageRenderer.Page: CustomTestStringConvertible {
    public var testDescription: String { fileName }
}
