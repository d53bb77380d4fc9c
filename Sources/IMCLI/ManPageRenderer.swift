/// Renders mdoc(7) man pages from the command tree: `imctl(1)` for the root and one
/// `imctl-<command>(1)` per visible top-level command, whose subcommands get a subsection each.
///
/// Every page has NAME, SYNOPSIS, DESCRIPTION, OPTIONS, ENVIRONMENT, EXIT STATUS and SEE ALSO;
/// COMMANDS and FILES appear when there is something to list. The output is deterministic
/// (the date is `date`, not today), so the checked-in pages can be compared with it.
public struct ManPageRenderer: Sendable {
    /// The `.Dd` date of every page; change it when the pages change in substance.
    public static let date = "December 4, 2026"

    public let root: CommandSpec

    public init(root: CommandSpec = CommandTree.root) {
        self.root = root
    }

    /// One page: its file name (`imctl-push.1`) and mdoc text.
    public struct Page: Sendable, Equatable {
        public var fileName: String
        public var text: String
    }

    /// The root page followed by one page per visible top-level command.
    public func pages() -> [Page] {
        [page(for: [])] + root.visibleSubcommands.map { page(for: [$0.name]) }
    }

    /// The page for the top-level command at `path` (`[]` for `imctl` itself).
    public func page(for path: [String]) -> Page {
        let command = path.reduce(root) { command, name in command.subcommand(named: name)! }
        let name = pageName(path)
        var lines = header(name: name, command: command)
        lines += synopsis(command, path: path)
        lines += description(command)
        lines += optionsSection(command)
        lines += commandsSection(command, path: path)
        lines += environmentSection(command)
        lines += filesSection(command)
        lines += exitStatusSection(command)
        lines += seeAlsoSection(command, path: path)
        return Page(fileName: "\(name).1", text: lines.joined(separator: "\n") + "\n")
    }

    private func pageName(_ path: [String]) -> String {
        ([CommandTree.toolName] + path).joined(separator: "-")
    }

    // MARK: - Sections

    private func header(name: String, command: CommandSpec) -> [String] {
        [
            ".\\\" Generated from the imctl command tree by 'imctl generate man'; do not edit.",
            ".Dd \(Self.date)",
            ".Dt \(name.uppercased()) 1",
            ".Os \(Self.quoted("\(CommandTree.toolName) \(IMCommandLine.version)"))",
            ".Sh NAME",
            ".Nm \(name)",
            ".Nd \(Self.nameDescription(command.abstract))",
        ]
    }

    private func synopsis(_ command: CommandSpec, path: [String]) -> [String] {
        var lines = [".Sh SYNOPSIS"]
        for leafPath in leafPaths(of: command, path: path) {
            let leaf = leafPath.dropFirst(path.count).reduce(command) { $0.subcommand(named: $1)! }
            lines.append(".Nm " + ([CommandTree.toolName] + leafPath).joined(separator: " "))
            lines += usageWords(leaf)
        }
        if path.isEmpty {
            lines.append(".Nm \(CommandTree.toolName)")
            lines.append(".Ar command")
            lines.append(".Op Ar argument ...")
        }
        return lines
    }

    /// Every runnable command at or below `command`, by its path.
    private func leafPaths(of command: CommandSpec, path: [String]) -> [[String]] {
        guard !command.subcommands.isEmpty else { return [path] }
        if path.isEmpty { return [[]] }  // the root page lists the commands in COMMANDS
        return command.visibleSubcommands.flatMap { leafPaths(of: $0, path: path + [$0.name]) }
    }

    private func usageWords(_ command: CommandSpec) -> [String] {
        let options = command.options.filter { $0.long != CommandTree.helpOption.long }
        var lines = options.map { option in
            let words = optionWords(option)
            return option.isRequired ? words : ".Op " + words.dropFirst(1)
        }
        lines += command.arguments.map { argument in
            let words = "Ar \(Self.argument(argument.name))" + (argument.isRepeating ? " ..." : "")
            return argument.isOptional ? ".Op \(words)" : ".\(words)"
        }
        return lines
    }

    /// `.Fl \-uid Ar uid` or `.Fl \-json`.
    private func optionWords(_ option: OptionSpec) -> String {
        var words = ".Fl \\-\(option.long)"
        if option.takesValue { words += " Ar \(Self.argument(option.valueName ?? "value"))" }
        return words
    }

    private func description(_ command: CommandSpec) -> [String] {
        var lines = [".Sh DESCRIPTION"] + Self.text(command.abstract)
        for paragraph in Self.paragraphs(command.discussion) {
            lines += [".Pp"] + Self.text(paragraph)
        }
        return lines
    }

    private func optionsSection(_ command: CommandSpec) -> [String] {
        guard !command.options.isEmpty || !command.arguments.isEmpty else { return [] }
        return [".Sh OPTIONS"] + optionList(command)
    }

    /// A tag list of the command's arguments, then its options.
    private func optionList(_ command: CommandSpec) -> [String] {
        var lines = [".Bl -tag -width Ds"]
        for argument in command.arguments {
            lines.append(".It Ar \(Self.argument(argument.name))")
            lines += Self.text(argument.abstract)
            if case .choice(let words) = argument.kind { lines += Self.values(words) }
        }
        for option in command.options {
            lines.append(".It " + optionItem(option))
            lines += Self.text(option.abstract) + optionNotes(option)
        }
        return lines + [".El"]
    }

    private func optionItem(_ option: OptionSpec) -> String {
        let words = String(optionWords(option).dropFirst())
        guard let short = option.short else { return words }
        return "Fl \(short) , " + words
    }

    private func optionNotes(_ option: OptionSpec) -> [String] {
        var lines: [String] = []
        if option.isRequired { lines.append("Required.") }
        if case .choice(let words)? = option.valueKind { lines += Self.values(words) }
        if let value = option.defaultValue {
            lines += ["Default:", ".Ql \(Self.argument(value)) ."]
        }
        if let variable = option.environment {
            lines += ["Environment:", ".Ev \(Self.argument(variable)) ."]
        }
        if option.isConfigKey {
            lines += ["Config key:", ".Ql \(Self.argument(option.long)) ."]
        }
        return lines
    }

    /// COMMANDS: on the root page one entry per command (details in its own page); on a
    /// command's page one subsection per subcommand below it.
    private func commandsSection(_ command: CommandSpec, path: [String]) -> [String] {
        let children = command.visibleSubcommands
        guard !children.isEmpty else { return [] }
        guard !path.isEmpty else {
            var lines = [".Sh COMMANDS", ".Bl -tag -width Ds"]
            for child in children {
                lines += [".It Cm \(child.name)"] + Self.text(child.abstract)
                lines += ["See", ".Xr \(pageName([child.name])) 1 ."]
            }
            return lines + [".El"]
        }
        return [".Sh COMMANDS"] + subcommandSections(command, path: path)
    }

    private func subcommandSections(_ command: CommandSpec, path: [String]) -> [String] {
        command.visibleSubcommands.flatMap { child -> [String] in
            let childPath = path + [child.name]
            var lines = [".Ss " + ([CommandTree.toolName] + childPath).joined(separator: " ")]
            lines += Self.text(child.abstract)
            for paragraph in Self.paragraphs(child.discussion) {
                lines += [".Pp"] + Self.text(paragraph)
            }
            if !child.options.isEmpty || !child.arguments.isEmpty { lines += optionList(child) }
            return lines + subcommandSections(child, path: childPath)
        }
    }

    private func environmentSection(_ command: CommandSpec) -> [String] {
        var lines = [".Sh ENVIRONMENT", ".Bl -tag -width Ds"]
        var seen: Set<String> = []
        for option in Self.allOptions(of: command) {
            guard let variable = option.environment, seen.insert(variable).inserted else {
                continue
            }
            lines += [".It Ev \(Self.argument(variable))", "Used when"]
            lines += [".Fl \\-\(option.long)", "is not given:"] + Self.text(option.abstract)
        }
        for note in Self.all(\.environment, of: command) + root.environment
        where seen.insert(note.name).inserted {
            lines += [".It Ev \(Self.argument(note.name))"] + Self.text(note.abstract)
        }
        return lines + [".El"]
    }

    private func filesSection(_ command: CommandSpec) -> [String] {
        let files = Self.all(\.files, of: command)
        guard !files.isEmpty else { return [] }

        var lines = [".Sh FILES", ".Bl -tag -width Ds"]
        for file in files {
            lines += [".It Pa \(Self.argument(file.name))"] + Self.text(file.abstract)
        }
        return lines + [".El"]
    }

    private func exitStatusSection(_ command: CommandSpec) -> [String] {
        let standard = [
            Note("0", "Success."),
            Note("1", "The operation failed: a server error, or the server was unreachable."),
            Note("64", "Usage error: the command line does not fit the command's grammar."),
        ]
        var lines = [".Sh EXIT STATUS", ".Bl -tag -width Ds"]
        for status in standard + Self.all(\.exitStatuses, of: command) {
            lines += [".It \(status.name)"] + Self.text(status.abstract)
        }
        return lines + [".El"]
    }

    private func seeAlsoSection(_ command: CommandSpec, path: [String]) -> [String] {
        var references = path.isEmpty
            ? root.visibleSubcommands.map { "\(pageName([$0.name]))(1)" }
            : ["\(CommandTree.toolName)(1)"]
        references += Self.all(\.seeAlso, of: command)

        // mdoc's order: by section, then by name.
        let entries = references.map { reference in
            let name = String(reference.prefix { $0 != "(" })
            let section = String(reference.drop { $0 != "(" }.dropFirst().prefix { $0 != ")" })
            return (name: name, section: section)
        }.sorted { ($0.section, $0.name) < ($1.section, $1.name) }

        let lines = entries.enumerated().map { index, entry in
            ".Xr \(entry.name) \(entry.section)" + (index < entries.count - 1 ? " ," : "")
        }
        return [".Sh SEE ALSO"] + lines
    }

    // MARK: - Gathering from the tree

    private static func allOptions(of command: CommandSpec) -> [OptionSpec] {
        command.options + command.visibleSubcommands.flatMap(allOptions)
    }

    private static func all<T>(_ field: KeyPath<CommandSpec, [T]>, of command: CommandSpec)
        -> [T]
    {
        command[keyPath: field] + command.visibleSubcommands.flatMap { all(field, of: $0) }
    }

    // MARK: - mdoc text

    /// `.Nd` text: lower-case first word (unless it is an acronym), no final period.
    static func nameDescription(_ abstract: String) -> String {
        var text = abstract.hasSuffix(".") ? String(abstract.dropLast()) : abstract
        let firstWord = text.prefix { !$0.isWhitespace }
        if firstWord.count == 1 || firstWord.dropFirst().allSatisfy(\.isLowercase) {
            text = text.prefix(1).lowercased() + text.dropFirst()
        }
        return escaped(text)
    }

    private static func values(_ words: [String]) -> [String] {
        let list = words.map(argument).joined(separator: " , ")
        return ["Values:", ".Cm \(list) ."]
    }

    private static func paragraphs(_ text: String) -> [String] {
        text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
    }

    /// Text lines are kept this short where words allow (mandoc's style check).
    static let lineWidth = 80

    /// Free text as mdoc text lines: each sentence starts a line (mdoc's rule), lines are
    /// wrapped at `lineWidth`, backslashes and option dashes are escaped, and no line starts
    /// with a control character.
    static func text(_ paragraph: String) -> [String] {
        let words = paragraph.split(whereSeparator: \.isWhitespace).map(String.init)
        var lines: [String] = []
        var current = ""
        for (index, word) in words.enumerated() {
            let escapedText = escapedWord(word)
            if !current.isEmpty, current.utf8.count + 1 + escapedText.utf8.count > lineWidth {
                lines.append(protectingLineStart(current))
                current = ""
            }
            current += (current.isEmpty ? "" : " ") + escapedText

            let next = index + 1 < words.count ? words[index + 1] : nil
            if next == nil || endsSentence(word, before: next!) {
                lines.append(protectingLineStart(current))
                current = ""
            }
        }
        return lines
    }

    private static func endsSentence(_ word: String, before next: String) -> Bool {
        guard word.hasSuffix(".") || word.hasSuffix(":") || word.hasSuffix(";") else {
            return false
        }
        guard let first = next.first else { return false }
        return first.isUppercase || first == "'"
    }

    private static func escapedWord(_ word: String) -> String {
        let body = word.drop { $0 == "-" || $0 == "'" || $0 == "(" }
        let prefix = word.prefix(word.count - body.count)
        let dashes = prefix.map { $0 == "-" ? "\\-" : String($0) }.joined()
        let noHyphenation = prefix.contains("-") ? "\\%" : ""  // keep `--heartbeat` whole
        return noHyphenation + dashes + escaped(String(body))
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\e")
    }

    private static func protectingLineStart(_ line: String) -> String {
        guard let first = line.first, first == "." || first == "'" else { return line }
        return "\\&" + line
    }

    /// A macro argument taken literally: escaped, never read as a macro name or delimiter.
    static func argument(_ text: String) -> String {
        let escapedText = escaped(text)
        return text.contains(" ") ? quoted(escapedText) : "\\&" + escapedText
    }

    private static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\"", with: "\\(dq") + "\""
    }
}
