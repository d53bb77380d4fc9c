import Foundation

/// Renders `--help` text from the command tree in swift-argument-parser's shape: OVERVIEW,
/// USAGE, ARGUMENTS, OPTIONS, SUBCOMMANDS; labels in a 26-column gutter; text wrapped to the
/// width. `imctl help X` and `imctl X --help` both print `help(for: X)`.
public struct HelpRenderer: Sendable {
    /// Column where option and argument descriptions start.
    public static let gutter = 26

    /// Usage lines list optional options one by one up to this many, else `[<options>]`.
    static let maxListedOptionalOptions = 4

    /// Total line width to wrap to.
    public var width: Int

    public init(width: Int = 80) {
        self.width = max(width, 40)
    }

    /// The width from `COLUMNS` in `environment`, else that of the terminal `terminal` is
    /// (when it is one), else 80; never under 40.
    public static func width(from environment: [String: String], terminal: Int32? = nil) -> Int {
        if let columns = environment["COLUMNS"].flatMap({ Int($0) }) { return max(columns, 40) }

        var size = winsize()
        guard let terminal, ioctl(terminal, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else {
            return 80
        }
        return max(Int(size.ws_col), 40)
    }

    /// The full help text for the command at `path`, ending with a newline.
    public func help(for command: CommandSpec, path: [String]) -> String {
        var sections = [wrap("OVERVIEW: " + command.abstract, hangingIndent: 0)]
        sections += paragraphs(command.discussion)
        sections.append(wrap("USAGE: " + usageLine(for: command, path: path), hangingIndent: 7))
        if !command.arguments.isEmpty {
            sections.append(list("ARGUMENTS:", command.arguments.map(row)))
        }
        if !command.options.isEmpty {
            sections.append(list("OPTIONS:", command.options.map(row)))
        }
        if !command.visibleSubcommands.isEmpty {
            sections.append(subcommandSection(command, path: path))
        }
        return sections.joined(separator: "\n\n") + "\n"
    }

    /// `imctl push --uid <uid> [--logic <url>] [--json] [<message>]`, unwrapped.
    public func usageLine(for command: CommandSpec, path: [String]) -> String {
        var words = [CommandTree.toolName] + path
        guard command.subcommands.isEmpty else {
            return (words + ["<subcommand>"]).joined(separator: " ")
        }

        let visible = command.options.filter { $0.long != CommandTree.helpOption.long }
        words += visible.filter(\.isRequired).map(\.usageLabel)

        let optional = visible.filter { !$0.isRequired }
        if optional.count > Self.maxListedOptionalOptions {
            words.append("[<options>]")
        } else {
            words += optional.map { "[\($0.usageLabel)]" }
        }
        words += command.arguments.map(Self.usageLabel)
        return words.joined(separator: " ")
    }

    private static func usageLabel(_ argument: ArgumentSpec) -> String {
        let label = "<\(argument.name)>" + (argument.isRepeating ? " ..." : "")
        return argument.isOptional ? "[\(label)]" : label
    }

    private func row(_ argument: ArgumentSpec) -> (String, String) {
        var text = argument.abstract
        if case .choice(let words) = argument.kind {
            text += " (values: \(words.joined(separator: ", ")))"
        }
        return ("<\(argument.name)>", text)
    }

    private func row(_ option: OptionSpec) -> (String, String) {
        var notes: [String] = []
        if case .choice(let words)? = option.valueKind {
            notes.append("values: " + words.joined(separator: ", "))
        }
        if let value = option.defaultValue { notes.append("default: \(value)") }
        if let variable = option.environment { notes.append("env: \(variable)") }

        let suffix = notes.isEmpty ? "" : " (\(notes.joined(separator: "; ")))"
        return (option.helpLabel, option.abstract + suffix)
    }

    private func subcommandSection(_ command: CommandSpec, path: [String]) -> String {
        let rows = command.visibleSubcommands.map { ($0.name, $0.abstract) }
        let helpWords = ([CommandTree.toolName, "help"] + path).joined(separator: " ")
        let footer = wrap("See '\(helpWords) <subcommand>' for detailed help.", indent: 2)
        return list("SUBCOMMANDS:", rows) + "\n\n" + footer
    }

    /// A section title followed by label/description rows in the gutter layout.
    func list(_ title: String, _ rows: [(String, String)]) -> String {
        ([title] + rows.map(gutterRow)).joined(separator: "\n")
    }

    private func gutterRow(label: String, text: String) -> String {
        let indent = String(repeating: " ", count: Self.gutter)
        let lines = wrapLines(text, width: width - Self.gutter)
        let labelled = "  " + label
        guard labelled.count < Self.gutter else {
            return ([labelled] + lines.map { indent + $0 }).joined(separator: "\n")
        }

        let padding = String(repeating: " ", count: Self.gutter - labelled.count)
        let first = labelled + padding + (lines.first ?? "")
        return ([first] + lines.dropFirst().map { indent + $0 }).joined(separator: "\n")
    }

    private func paragraphs(_ text: String) -> [String] {
        text.components(separatedBy: "\n\n")
            .filter { !$0.isEmpty }
            .map { wrapLines($0, width: width).joined(separator: "\n") }
    }

    /// Wraps `text` to the width, indenting continuation lines by `hangingIndent`.
    private func wrap(_ text: String, hangingIndent: Int) -> String {
        let lines = wrapLines(text, width: width - hangingIndent, firstWidth: width)
        let indent = String(repeating: " ", count: hangingIndent)
        return ([lines.first ?? ""] + lines.dropFirst().map { indent + $0 }).joined(separator: "\n")
    }

    /// Wraps `text` to the width with every line indented by `indent`.
    private func wrap(_ text: String, indent: Int) -> String {
        let padding = String(repeating: " ", count: indent)
        return wrapLines(text, width: width - indent).map { padding + $0 }.joined(separator: "\n")
    }

    /// Greedy word wrap; a word longer than the width gets a line of its own.
    func wrapLines(_ text: String, width: Int, firstWidth: Int? = nil) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in text.split(whereSeparator: \.isWhitespace) {
            let limit = lines.isEmpty ? (firstWidth ?? width) : width
            if !current.isEmpty, current.count + 1 + word.count > limit {
                lines.append(current)
                current = ""
            }
            current += (current.isEmpty ? "" : " ") + word
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }
}
