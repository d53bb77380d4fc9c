/// Resolves an option's value through the layers, highest first: the flag, its environment
/// variable (`OptionSpec.environment`; an empty variable counts as unset), the config file
/// (for `isConfigKey` options), the default.
struct SettingLayers: Sendable {
    /// Where a value came from: error messages name it.
    enum Source: Sendable, Equatable {
        case flag(String)
        case environment(String)
        case file(path: String, line: Int)
        case defaultValue
    }

    struct Resolved: Sendable, Equatable {
        var text: String
        var source: Source
    }

    let command: ParsedCommand
    let environment: [String: String]
    let file: ConfigFile?

    /// The winning value for `option`, or nil when no layer sets it.
    ///
    /// - Throws: `UsageError` when the environment variable is not a valid value of its kind
    ///   (flag and file values were checked when they were read).
    func resolve(_ option: OptionSpec) throws(UsageError) -> Resolved? {
        if let text = command.values[option.long] {
            return Resolved(text: text, source: .flag("--\(option.long)"))
        }
        if let variable = option.environment, let text = environment[variable], !text.isEmpty {
            let resolved = Resolved(text: text, source: .environment(variable))
            if let problem = option.valueKind?.problem(with: text) {
                throw invalid(resolved, option: option, problem: problem)
            }
            return resolved
        }
        if option.isConfigKey, let file, let entry = file.entries[option.long] {
            return Resolved(text: entry.value, source: .file(path: file.path, line: entry.line))
        }
        return option.defaultValue.map { Resolved(text: $0, source: .defaultValue) }
    }

    /// The error for a value that its source gave but that is not acceptable.
    func invalid(_ resolved: Resolved, option: OptionSpec, problem: String) -> UsageError {
        let value = resolved.text
        let message: String
        switch resolved.source {
        case .flag(let label):
            message = "invalid value '\(value)' for option '\(label)': \(problem)"
        case .environment(let variable):
            message = "invalid value '\(value)' in \(variable): \(problem)"
        case .file(let path, let line):
            message = "\(path):\(line): invalid value '\(value)' for '\(option.long)': \(problem)"
        case .defaultValue:
            message = "invalid default '\(value)' for '--\(option.long)': \(problem)"
        }
        return UsageError(message, path: command.path)
    }
}
