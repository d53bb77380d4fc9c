/// Splits a REPL line into words with a POSIX shell's quoting rules, so a line means what it
/// would mean after `imctl ` on a shell command line:
///
/// - blanks (space, tab) separate words outside quotes;
/// - `'...'` keeps everything inside literally;
/// - `"..."` keeps everything inside, except that a backslash before `"`, `\`, `$` or a
///   backquote stands for that character (before anything else the backslash stays);
/// - a backslash outside quotes makes the next character literal;
/// - `''` and `""` give an empty word.
///
/// There is no expansion of any kind (variables, globs, `~`), and `#` is an ordinary character.
public enum ShellWords {
    /// Why a line could not be split; the message fits after `Error: `.
    public struct SplitError: Error, Sendable, Equatable {
        public var message: String
    }

    /// The words of `line`.
    ///
    /// - Throws: `SplitError` for an unterminated quote or a backslash ending the line.
    public static func split(_ line: String) throws(SplitError) -> [String] {
        var scanner = Scanner(line)
        return try scanner.split()
    }

    private struct Scanner {
        private var characters: String.Iterator
        private var words: [String] = []
        private var current = ""
        private var hasWord = false

        init(_ line: String) {
            characters = line.makeIterator()
        }

        mutating func split() throws(SplitError) -> [String] {
            while let character = characters.next() {
                try take(character)
            }
            endWord()
            return words
        }

        private mutating func take(_ character: Character) throws(SplitError) {
            switch character {
            case " ", "\t":
                endWord()
            case "'":
                try singleQuoted()
            case "\"":
                try doubleQuoted()
            case "\\":
                guard let next = characters.next() else {
                    throw SplitError(message: "the line ends with a backslash")
                }
                append(next)
            default:
                append(character)
            }
        }

        private mutating func singleQuoted() throws(SplitError) {
            hasWord = true
            while let character = characters.next() {
                if character == "'" { return }
                current.append(character)
            }
            throw SplitError(message: "unterminated single quote")
        }

        private mutating func doubleQuoted() throws(SplitError) {
            hasWord = true
            while let character = characters.next() {
                switch character {
                case "\"":
                    return
                case "\\":
                    guard let next = characters.next() else { break }
                    if !Self.escapableInDoubleQuotes.contains(next) { current.append("\\") }
                    current.append(next)
                default:
                    current.append(character)
                }
            }
            throw SplitError(message: "unterminated double quote")
        }

        private static let escapableInDoubleQuotes: Set<Character> = ["\"", "\\", "$", "`"]

        private mutating func append(_ character: Character) {
            current.append(character)
            hasWord = true
        }

        private mutating func endWord() {
            guard hasWord else { return }
            words.append(current)
            current = ""
            hasWord = false
        }
    }
}
