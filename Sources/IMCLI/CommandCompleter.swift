/// What the word under the cursor may become, worked out from the words before it by walking
/// the command tree the way `ArgumentParser` reads a command line. The REPL's Tab key calls it;
/// the shell scripts `CompletionRenderer` writes encode the same walk.
public struct CommandCompleter: Sendable {
    /// What to offer for the word under the cursor.
    public enum Offer: Sendable, Equatable {
        /// These words (already narrowed to the typed prefix).
        case words([String])
        /// Paths on the local file system.
        case files
        /// Nothing: the value is free text.
        case nothing
    }

    /// The command the words are read against (its hidden children are never offered).
    public let root: CommandSpec

    public init(root: CommandSpec = CommandTree.root) {
        self.root = root
    }

    /// The offer for a word starting with `prefix` that follows `words` (the words after the
    /// program name, complete ones only).
    public func offer(after words: [String], prefix: String) -> Offer {
        let position = walk(words)
        switch position.expected {
        case .value(let kind):
            return offer(for: kind, pathWords: [], prefix: prefix)
        case .word:
            return offerForWord(at: position, prefix: prefix)
        }
    }

    /// Where a walk over complete words ended.
    struct Position {
        enum Expectation {
            /// The value of an option that takes one.
            case value(ValueKind)
            /// An option, subcommand or positional.
            case word
        }

        var command: CommandSpec
        var positionals: [String] = []
        var afterDashes = false
        var expected = Expectation.word
    }

    func walk(_ words: [String]) -> Position {
        var position = Position(command: root)
        for word in words {
            if case .value = position.expected {
                position.expected = .word
            } else if position.afterDashes {
                position.positionals.append(word)
            } else {
                read(word, into: &position)
            }
        }
        return position
    }

    private func read(_ word: String, into position: inout Position) {
        if word == "--" {
            position.afterDashes = true
        } else if word.hasPrefix("--"), word.hasSuffix("="), word.dropFirst(2).count > 1 {
            // `--logic=` as the last word: its value is being typed.
            let name = String(word.dropFirst(2).dropLast())
            let kind = position.command.option(long: name)?.valueKind
            position.expected = kind.map { .value($0) } ?? .word
        } else if word.hasPrefix("-"), word.count > 1, Int64(word) == nil {
            let option = optionNamed(by: word, in: position.command)
            if let kind = option?.valueKind, !word.contains("=") {
                position.expected = .value(kind)
            }
        } else if position.positionals.isEmpty,
            let child = position.command.visibleSubcommands.first(where: { $0.name == word })
        {
            position.command = child
        } else {
            position.positionals.append(word)
        }
    }

    private func optionNamed(by word: String, in command: CommandSpec) -> OptionSpec? {
        if word.hasPrefix("--") {
            return command.option(long: String(word.dropFirst(2).prefix { $0 != "=" }))
        }
        return word.count == 2 ? command.option(short: word.last!) : nil
    }

    private func offerForWord(at position: Position, prefix: String) -> Offer {
        let command = position.command
        if prefix.hasPrefix("-"), !position.afterDashes {
            return .words(matching(command.options.map { "--\($0.long)" }, prefix))
        }
        if !command.visibleSubcommands.isEmpty {
            return .words(matching(command.visibleSubcommands.map(\.name), prefix))
        }
        guard let argument = argument(at: position.positionals.count, of: command) else {
            return .nothing
        }
        let ownWords = argument.isRepeating
            ? Array(position.positionals.suffix(from: command.arguments.count - 1)) : []
        return offer(for: argument.kind, pathWords: ownWords, prefix: prefix)
    }

    private func argument(at index: Int, of command: CommandSpec) -> ArgumentSpec? {
        if index < command.arguments.count { return command.arguments[index] }
        return command.arguments.last.flatMap { $0.isRepeating ? $0 : nil }
    }

    private func offer(for kind: ValueKind, pathWords: [String], prefix: String) -> Offer {
        switch kind {
        case .choice(let words):
            return .words(matching(words, prefix))
        case .file:
            return .files
        case .commandPath:
            let names = command(at: pathWords)?.visibleSubcommands.map(\.name) ?? []
            return .words(matching(names, prefix))
        case .string, .integer, .duration, .size, .address, .url:
            return .nothing
        }
    }

    private func command(at path: [String]) -> CommandSpec? {
        var command = root
        for name in path {
            guard let child = command.visibleSubcommands.first(where: { $0.name == name }) else {
                return nil
            }
            command = child
        }
        return command
    }

    private func matching(_ candidates: [String], _ prefix: String) -> [String] {
        candidates.filter { $0.hasPrefix(prefix) }
    }
}
