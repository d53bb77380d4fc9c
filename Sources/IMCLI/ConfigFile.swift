import Foundation

/// A `--config` file: one `key = value` setting per line, where the keys are the long option
/// names of the command (`heartbeat-timeout = 5m`). `#` starts a comment (a whole line, or
/// after whitespace following an unquoted value). Values may be quoted: `"..."` with `\"`,
/// `\\`, `\n`, `\t` escapes, or `'...'` taken literally. Unknown keys, repeated keys and values
/// of the wrong kind are errors naming `file:line`.
public struct ConfigFile: Sendable {
    /// One setting and the line it came from.
    public struct Entry: Sendable, Equatable {
        public var value: String
        public var line: Int
    }

    /// Files larger than this are refused rather than read.
    public static let maxSize = 1 << 20

    public let path: String
    public private(set) var entries: [String: Entry] = [:]

    /// Reads and parses the file at `path` against `options` (only `isConfigKey` ones count).
    public static func load(path: String, options: [OptionSpec]) throws(ConfigFileError)
        -> ConfigFile
    {
        let text = try readText(path)
        return try ConfigFile(path: path, text: text, options: options)
    }

    /// Parses `text` as if read from `path`.
    public init(path: String, text: String, options: [OptionSpec]) throws(ConfigFileError) {
        self.path = path
        let keys = options.filter(\.isConfigKey)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, rawLine) in lines.enumerated() {
            try parseLine(rawLine, number: index + 1, keys: keys)
        }
    }

    private mutating func parseLine(
        _ rawLine: Substring, number: Int, keys: [OptionSpec]
    ) throws(ConfigFileError) {
        let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !line.isEmpty, !line.hasPrefix("#") else { return }

        guard let equals = line.firstIndex(of: "=") else {
            throw error(number, "expected 'key = value'")
        }
        let key = line[..<equals].trimmingCharacters(in: .whitespaces)
        guard !key.isEmpty else { throw error(number, "missing key before '='") }
        guard let option = keys.first(where: { $0.long == key }) else {
            let hint = ArgumentParser.suggestion(for: key, among: keys.map(\.long))
            throw error(number, "unknown key '\(key)'\(hint)")
        }

        let value = try parseValue(line[line.index(after: equals)...], line: number, key: key)
        try store(value, for: option, line: number)
    }

    private mutating func store(_ value: String, for option: OptionSpec, line: Int)
        throws(ConfigFileError)
    {
        if let first = entries[option.long] {
            throw error(line, "duplicate key '\(option.long)' (first set on line \(first.line))")
        }
        if let problem = option.valueKind?.problem(with: value) {
            throw error(line, "invalid value '\(value)' for '\(option.long)': \(problem)")
        }
        entries[option.long] = Entry(value: value, line: line)
    }

    private func parseValue(_ raw: Substring, line: Int, key: String) throws(ConfigFileError)
        -> String
    {
        let text = raw.drop { $0 == " " || $0 == "\t" }
        if let quote = text.first, quote == "\"" || quote == "'" {
            return try parseQuoted(text, line: line)
        }

        let value = Self.strippingComment(text).trimmingCharacters(in: .whitespaces)
        guard !value.isEmpty else { throw error(line, "missing value for '\(key)'") }
        return value
    }

    /// Unquoted values end where ` #` or a tab and `#` starts a comment.
    private static func strippingComment(_ text: Substring) -> Substring {
        var previous: Character = " "
        for index in text.indices {
            if text[index] == "#", previous == " " || previous == "\t" {
                return text[..<index]
            }
            previous = text[index]
        }
        return text
    }

    private func parseQuoted(_ text: Substring, line: Int) throws(ConfigFileError) -> String {
        let quote = text.first!
        var value = ""
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let character = text[index]
            index = text.index(after: index)
            if character == quote {
                let rest = text[index...].trimmingCharacters(in: .whitespaces)
                guard rest.isEmpty || rest.hasPrefix("#") else {
                    throw error(line, "unexpected text after the closing quote")
                }
                return value
            }
            if character == "\\", quote == "\"", index < text.endIndex {
                value.append(Self.unescaped(text[index]))
                index = text.index(after: index)
            } else {
                value.append(character)
            }
        }
        throw error(line, "missing closing \(quote)")
    }

    private static func unescaped(_ character: Character) -> Character {
        switch character {
        case "n": "\n"
        case "t": "\t"
        default: character
        }
    }

    private func error(_ line: Int, _ message: String) -> ConfigFileError {
        ConfigFileError(message: "\(path):\(line): \(message)")
    }

    private static func readText(_ path: String) throws(ConfigFileError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw cannotRead(path, errno) }
        defer { close(fd) }

        let bytes: [UInt8]
        do {
            bytes = try FileDescriptorInput(fd: fd).readAll(limit: maxSize)
        } catch {
            switch error {
            case .tooLarge:
                throw ConfigFileError(message: "config file '\(path)' is larger than 1 MiB")
            case .readFailed(let code):
                throw cannotRead(path, code)
            case .unavailable:  // only the REPL's command input says this
                throw cannotRead(path, EBADF)
            }
        }

        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigFileError(message: "config file '\(path)' is not UTF-8 text")
        }
        return text
    }

    private static func cannotRead(_ path: String, _ code: Int32) -> ConfigFileError {
        let reason = String(cString: strerror(code))
        return ConfigFileError(message: "cannot read config file '\(path)': \(reason)")
    }
}

/// A config file that cannot be used; `message` starts with `file:line:` when it is about
/// one line.
public struct ConfigFileError: Error, Sendable, Equatable {
    public var message: String
}

extension ConfigFile {
    /// `value` in the config-file syntax: as is when that reads back the same, else quoted.
    public static func quoted(_ value: String) -> String {
        let plain = !value.isEmpty && value.trimmingCharacters(in: .whitespaces) == value
            && !value.contains("#") && !value.contains("\"") && !value.contains("'")
            && !value.contains("\n")
        guard !plain else { return value }

        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
            .replacingOccurrences(of: "\t", with: "\\t")
        return "\"\(escaped)\""
    }
}
