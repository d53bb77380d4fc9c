/// A command line matched against the command tree.
public struct ParsedCommand: Sendable {
    /// Subcommand words from the root (`["serve", "all"]`; empty for bare `imctl`).
    public var path: [String]
    /// The matched command's grammar.
    public var spec: CommandSpec
    /// Value options given on the command line, by long name; the last one given wins, except
    /// for a repeating option, whose values are joined with commas in the order given.
    public var values: [String: String] = [:]
    /// Flags given on the command line, by long name.
    public var flags: Set<String> = []
    /// Positional arguments, in order.
    public var positionals: [String] = []
    /// `-h` / `--help` was given: everything else was left unchecked.
    public var wantsHelp = false

    /// The positional value for the argument named `name`, if given.
    public func argument(_ name: String) -> String? {
        guard let index = spec.arguments.firstIndex(where: { $0.name == name }),
            index < positionals.count
        else { return nil }
        return positionals[index]
    }

    /// Every positional from the repeating argument named `name` on.
    public func arguments(from name: String) -> [String] {
        guard let index = spec.arguments.firstIndex(where: { $0.name == name }),
            index < positionals.count
        else { return [] }
        return Array(positionals[index...])
    }
}

/// The command line does not fit the grammar: exit 64 with a usage hint.
public struct UsageError: Error, Sendable, Equatable {
    /// One line, without the `Error: ` prefix.
    public var message: String
    /// The command whose usage line the hint shows.
    public var path: [String]

    public init(_ message: String, path: [String]) {
        self.message = message
        self.path = path
    }
}

/// The hand-written parser: subcommand words first, then options and positionals in any
/// order. `--opt value` and `--opt=value` both work, `--` ends the options, and `-` is a
/// positional (standard input). A value option takes the next word even when it starts with
/// a dash, unless that word is itself an option (so `--uid -5` works and `--uid --json` is an
/// error).
public struct ArgumentParser {
    public let root: CommandSpec

    public init(root: CommandSpec = CommandTree.root) {
        self.root = root
    }

    /// Matches `arguments` (without the program name) against the tree.
    public func parse(_ arguments: [String]) throws(UsageError) -> ParsedCommand {
        var remaining = arguments[...]
        var parsed = try resolveCommand(&remaining)

        if Self.asksForHelp(remaining) {
            parsed.wantsHelp = true
            return parsed
        }
        try parseOptionsAndPositionals(remaining, into: &parsed)
        if parsed.path.isEmpty, parsed.flags.contains(CommandTree.versionOption.long) {
            return parsed
        }
        try checkComplete(parsed)
        return parsed
    }

    /// Walks subcommand words from the front of `remaining`.
    private func resolveCommand(_ remaining: inout ArraySlice<String>) throws(UsageError)
        -> ParsedCommand
    {
        var command = root
        var path: [String] = []
        while !command.subcommands.isEmpty, let word = remaining.first, !word.hasPrefix("-") {
            guard let child = command.subcommand(named: word) else {
                let names = command.visibleSubcommands.map(\.name)
                throw UsageError(
                    "unknown command '\(word)'" + Self.suggestion(for: word, among: names),
                    path: path)
            }
            command = child
            path.append(word)
            remaining.removeFirst()
        }
        return ParsedCommand(path: path, spec: command)
    }

    private static func asksForHelp(_ words: ArraySlice<String>) -> Bool {
        for word in words {
            if word == "--" { return false }
            if word == "--help" || word == "-h" { return true }
        }
        return false
    }

    private func parseOptionsAndPositionals(
        _ words: ArraySlice<String>, into parsed: inout ParsedCommand
    ) throws(UsageError) {
        var words = words
        while let word = words.popFirst() {
            if word == "--" {
                parsed.positionals.append(contentsOf: words)
                return
            }
            if Self.looksLikeOption(word) {
                try parseOption(word, rest: &words, into: &parsed)
            } else {
                parsed.positionals.append(word)
            }
        }
    }

    /// `-` is standard input, and `-5` or `-5s` a negative value (no option starts with a
    /// digit), so the value's check can say what is wrong with it.
    private static func looksLikeOption(_ word: String) -> Bool {
        word.hasPrefix("-") && word.count > 1 && !startsWithDigitAfterDash(word)
    }

    private static func startsWithDigitAfterDash(_ word: String) -> Bool {
        word.dropFirst().first?.isASCII == true && word.dropFirst().first?.isNumber == true
    }

    private func parseOption(
        _ word: String, rest: inout ArraySlice<String>, into parsed: inout ParsedCommand
    ) throws(UsageError) {
        let (option, inlineValue) = try lookUpOption(word, in: parsed)
        let label = word.hasPrefix("--") ? "--\(option.long)" : word

        guard let kind = option.valueKind else {
            if inlineValue != nil {
                throw UsageError("option '\(label)' does not take a value", path: parsed.path)
            }
            parsed.flags.insert(option.long)
            return
        }

        var value = inlineValue ?? ""
        if inlineValue == nil {
            value = try takeValue(for: label, from: &rest, path: parsed.path)
        }
        if let problem = kind.problem(with: value) {
            throw UsageError(
                "invalid value '\(value)' for option '\(label)': \(problem)", path: parsed.path)
        }
        if option.isRepeating, let earlier = parsed.values[option.long] {
            value = earlier + "," + value
        }
        parsed.values[option.long] = value
    }

    /// The option a word names, and its `=value` part if any.
    private func lookUpOption(_ word: String, in parsed: ParsedCommand) throws(UsageError)
        -> (OptionSpec, String?)
    {
        if word.hasPrefix("--") {
            let body = word.dropFirst(2)
            let name = String(body.prefix { $0 != "=" })
            let inline = body.firstIndex(of: "=").map { String(body[body.index(after: $0)...]) }
            if let option = parsed.spec.option(long: name) { return (option, inline) }

            let names = parsed.spec.options.map { "--\($0.long)" }
            throw UsageError(
                "unknown option '--\(name)'" + Self.suggestion(for: "--\(name)", among: names),
                path: parsed.path)
        }
        if word.count == 2, let option = parsed.spec.option(short: word.last!) {
            return (option, nil)
        }
        throw UsageError("unknown option '\(word)'", path: parsed.path)
    }

    private func takeValue(
        for label: String, from rest: inout ArraySlice<String>, path: [String]
    ) throws(UsageError) -> String {
        guard let next = rest.first, next == "-" || !Self.looksLikeOption(next) else {
            throw UsageError("missing value for option '\(label)'", path: path)
        }
        rest.removeFirst()
        return next
    }

    /// Subcommand chosen, positionals fit the arguments, required options present.
    private func checkComplete(_ parsed: ParsedCommand) throws(UsageError) {
        let spec = parsed.spec
        if !spec.subcommands.isEmpty {
            let names = spec.visibleSubcommands.map(\.name).joined(separator: ", ")
            throw UsageError("missing subcommand (one of: \(names))", path: parsed.path)
        }
        try checkPositionals(parsed)

        for option in spec.options where option.isRequired && parsed.values[option.long] == nil {
            throw UsageError("missing required option '\(option.usageLabel)'", path: parsed.path)
        }
    }

    private func checkPositionals(_ parsed: ParsedCommand) throws(UsageError) {
        let arguments = parsed.spec.arguments
        let takesRest = arguments.last?.isRepeating ?? false
        if !takesRest, parsed.positionals.count > arguments.count {
            let extra = parsed.positionals[arguments.count]
            throw UsageError("unexpected argument '\(extra)'", path: parsed.path)
        }

        for (index, argument) in arguments.enumerated() {
            guard index < parsed.positionals.count else {
                guard argument.isOptional else {
                    throw UsageError("missing argument '<\(argument.name)>'", path: parsed.path)
                }
                continue
            }
            let values = argument.isRepeating
                ? Array(parsed.positionals[index...]) : [parsed.positionals[index]]
            for value in values {
                if let problem = argument.kind.problem(with: value) {
                    throw UsageError(
                        "invalid value '\(value)' for '<\(argument.name)>': \(problem)",
                        path: parsed.path)
                }
            }
        }
    }

    /// ` (did you mean 'x'?)` when one candidate is a near miss, else empty.
    static func suggestion(for word: String, among candidates: [String]) -> String {
        let close = candidates
            .map { ($0, editDistance(word, $0)) }
            .filter { $0.1 <= max(1, min(2, word.count / 3)) }
            .min { $0.1 < $1.1 }
        return close.map { " (did you mean '\($0.0)'?)" } ?? ""
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }

        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            previous = current
        }
        return previous[b.count]
    }
}
