/// Renders shell completion scripts from the command tree: subcommands, each command's
/// options, and values by kind — files for `.file`, the words of a `.choice`, command names
/// for `.commandPath`, nothing for free text. The scripts walk the words typed so far the way
/// `CommandCompleter` does; hidden commands are left out.
public struct CompletionRenderer: Sendable {
    /// The shells there is a script for.
    public enum Shell: String, Sendable, CaseIterable {
        case bash, zsh, fish

        /// The conventional file name of the script (`_imctl` for zsh's `fpath`).
        public var fileName: String {
            switch self {
            case .bash: return "\(CommandTree.toolName).bash"
            case .zsh: return "_\(CommandTree.toolName)"
            case .fish: return "\(CommandTree.toolName).fish"
            }
        }
    }

    public let root: CommandSpec

    public init(root: CommandSpec = CommandTree.root) {
        self.root = root
    }

    /// The script for `shell`, ending with a newline.
    public func script(for shell: Shell) -> String {
        switch shell {
        case .bash: return BashCompletion(commands: commands).script
        case .zsh: return ZshCompletion(commands: commands).script
        case .fish: return FishCompletion(commands: commands).script
        }
    }

    /// Every visible command with its path, parents first.
    var commands: [(path: [String], spec: CommandSpec)] {
        func walk(_ command: CommandSpec, _ path: [String]) -> [([String], CommandSpec)] {
            [(path, command)] + command.visibleSubcommands.flatMap { walk($0, path + [$0.name]) }
        }
        return walk(root, [])
    }

    static func generatedNotice(_ shell: Shell) -> String {
        "generated from the imctl command tree by 'imctl generate completion \(shell.rawValue)'"
            + "; do not edit."
    }
}

// MARK: - bash

/// The bash script: lookup functions generated from the tree (`case` on the command path)
/// and one walker, `_imctl`.
private struct BashCompletion {
    let commands: [(path: [String], spec: CommandSpec)]

    var script: String {
        let parts = [
            header, subcommandsFunction, optionsFunction, valueKindFunction,
            argumentKindFunction, walker,
        ]
        return parts.joined(separator: "\n\n") + "\n"
    }

    private var header: String {
        """
        # bash completion for imctl,
        # \(CompletionRenderer.generatedNotice(.bash))
        # Load it with 'source imctl.bash', or install it as
        # /usr/share/bash-completion/completions/imctl.
        """
    }

    private var subcommandsFunction: String {
        let cases = commands.filter { !$0.spec.visibleSubcommands.isEmpty }.map { command in
            (Self.path(command.path), command.spec.visibleSubcommands.map(\.name))
        }
        return function(
            "_imctl_subcommands", "PATH: the subcommands of the command at PATH ('' is imctl).",
            cases: cases.map { ($0.0, "echo " + Self.quoted($0.1.joined(separator: " "))) })
    }

    private var optionsFunction: String {
        let cases = commands.map { command in
            let names = command.spec.options.map { "--\($0.long)" }.joined(separator: " ")
            return (Self.path(command.path), "echo " + Self.quoted(names))
        }
        return function("_imctl_options", "PATH: the options of the command at PATH.", cases: cases)
    }

    private var valueKindFunction: String {
        var cases: [(String, String)] = []
        for command in commands {
            for option in command.spec.options {
                guard let kind = option.valueKind else { continue }
                var names = ["--\(option.long)"]
                if let short = option.short { names.append("-\(short)") }
                let patterns = names.map { Self.path(command.path + [$0]) }
                cases.append((patterns.joined(separator: "|"), "echo " + Self.kind(kind)))
            }
        }
        return function(
            "_imctl_value_kind",
            "'PATH OPTION': how OPTION's value is completed; nothing for a flag.",
            cases: cases)
    }

    private var argumentKindFunction: String {
        var cases: [(String, String)] = []
        for command in commands {
            for (index, argument) in command.spec.arguments.enumerated() {
                let kind = Self.kind(argument.kind, firstIndex: index)
                let pattern = argument.isRepeating
                    ? Self.quoted(command.path.map { $0 + " " }.joined()) + "*"
                    : Self.path(command.path + ["\(index)"])
                cases.append((pattern, "echo " + kind))
            }
        }
        return function(
            "_imctl_argument_kind",
            "'PATH INDEX': how the positional at INDEX (from 0) is completed.",
            cases: cases)
    }

    private func function(_ name: String, _ comment: String, cases: [(String, String)]) -> String
    {
        let body = cases.map { "        \($0.0)) \($0.1) ;;" }.joined(separator: "\n")
        return """
            # \(name) \(comment)
            \(name)() {
                case "$1" in
            \(body)
                esac
            }
            """
    }

    /// `'serve all'` for a path (the words joined by spaces, single-quoted).
    private static func path(_ words: [String]) -> String {
        quoted(words.joined(separator: " "))
    }

    private static func kind(_ kind: ValueKind, firstIndex: Int = 0) -> String {
        switch kind {
        case .choice(let words): return quoted("choice " + words.joined(separator: " "))
        case .file: return "file"
        case .commandPath: return quoted("command \(firstIndex)")
        case .string, .integer, .duration, .size, .address, .url: return "text"
        }
    }

    static func quoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    private var walker: String {
        """
        # _imctl_complete_kind KIND [POSITIONAL...]: fills COMPREPLY for a value of KIND.
        _imctl_complete_kind() {
            local kind=$1
            shift
            case $kind in
                file)
                    compopt -o filenames 2>/dev/null
                    mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
                choice\\ *)
                    mapfile -t COMPREPLY < <(compgen -W "${kind#choice }" -- "$cur") ;;
                command\\ *)
                    local first=${kind#command } IFS=' '
                    local names=$(_imctl_subcommands "${*:first+1}")
                    mapfile -t COMPREPLY < <(compgen -W "$names" -- "$cur") ;;
            esac
        }

        # _imctl_join_words: sets words, cword and cur from COMP_WORDS, putting back together
        # the pieces bash splits at ':' and '=' (http://host:port, --opt=value) where the line
        # has no blank between them, as bash-completion's _get_comp_words_by_ref -n =: does.
        _imctl_join_words() {
            local line=${COMP_LINE:0:COMP_POINT} piece trimmed i
            words=()
            if [[ -z $line ]]; then  # called without a command line: take the words as they are
                words=("${COMP_WORDS[@]:0:COMP_CWORD+1}")
                cword=$COMP_CWORD
                cur=${COMP_WORDS[COMP_CWORD]}
                return
            fi
            for ((i = 0; i <= COMP_CWORD && i < ${#COMP_WORDS[@]}; i++)); do
                piece=${COMP_WORDS[i]}
                trimmed=${line#"${line%%[![:space:]]*}"}
                if (( i == 0 )) || [[ $trimmed != "$line" ]]; then
                    words+=("$piece")
                else
                    words[${#words[@]}-1]+=$piece
                fi
                line=${trimmed#"$piece"}
            done
            cword=$(( ${#words[@]} - 1 ))
            cur=${words[cword]}
        }

        # _imctl: walks the words before the cursor as imctl's parser does (subcommand words,
        # then options and positionals; a value option takes the next word), then completes
        # the current word: an option's value, an option, a subcommand or a positional.
        _imctl() {
            local cur words cword
            if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
                _get_comp_words_by_ref -n =: -c cur -w words -i cword
            else
                _imctl_join_words
            fi
            COMPREPLY=()

            local path='' kind='' dashes='' word i
            local positionals=()
            for ((i = 1; i < cword; i++)); do
                word=${words[i]}
                if [[ -n $kind ]]; then
                    kind=''
                    continue
                fi
                if [[ -n $dashes ]]; then
                    positionals+=("$word")
                    continue
                fi
                case $word in
                    --) dashes=1 ;;
                    --*=*) ;;
                    -?*) kind=$(_imctl_value_kind "${path:+$path }$word") ;;
                    *)
                        if (( ${#positionals[@]} == 0 )) &&
                            [[ " $(_imctl_subcommands "$path") " == *" $word "* ]]; then
                            path=${path:+$path }$word
                        else
                            positionals+=("$word")
                        fi ;;
                esac
            done

            if [[ -z $kind && -z $dashes && $cur == --*=* ]]; then
                kind=$(_imctl_value_kind "${path:+$path }${cur%%=*}")
                cur=${cur#*=}
                [[ -n $kind ]] || return 0
            fi
            if [[ -n $kind ]]; then
                _imctl_complete_kind "$kind"
            elif [[ -z $dashes && $cur == -* ]]; then
                mapfile -t COMPREPLY < <(compgen -W "$(_imctl_options "$path")" -- "$cur")
            elif [[ -n $(_imctl_subcommands "$path") ]]; then
                mapfile -t COMPREPLY < <(compgen -W "$(_imctl_subcommands "$path")" -- "$cur")
            else
                kind=$(_imctl_argument_kind "${path:+$path }${#positionals[@]}")
                _imctl_complete_kind "$kind" "${positionals[@]}"
            fi
            return 0
        }

        complete -F _imctl imctl
        """
    }
}

// MARK: - zsh

/// The zsh script: one `_arguments` function per command (`_imctl_serve_all`), dispatching
/// on the subcommand word the way zsh's own completions do.
private struct ZshCompletion {
    let commands: [(path: [String], spec: CommandSpec)]

    var script: String {
        let functions = commands.map { function(path: $0.path, spec: $0.spec) }
        let parts = [header] + functions + [footer]
        return parts.joined(separator: "\n\n") + "\n"
    }

    private var header: String {
        """
        #compdef imctl
        # zsh completion for imctl,
        # \(CompletionRenderer.generatedNotice(.zsh))
        # Install it as _imctl in a directory on $fpath, or source it after compinit.
        """
    }

    private var footer: String {
        """
        if [ "$funcstack[1]" = "_imctl" ]; then
            _imctl "$@"
        else
            compdef _imctl imctl
        fi
        """
    }

    private static func functionName(_ path: [String]) -> String {
        (["_imctl"] + path).joined(separator: "_").replacingOccurrences(of: "-", with: "_")
    }

    private func function(path: [String], spec: CommandSpec) -> String {
        let specs = spec.options.map { optionSpec($0) } + positionalSpecs(spec)
        let arguments = specs.map { "        " + $0 }.joined(separator: " \\\n")
        let name = Self.functionName(path)
        guard !spec.visibleSubcommands.isEmpty else {
            return "\(name)() {\n    _arguments -s \\\n\(arguments)\n}"
        }
        return """
            \(name)() {
                local context state state_descr line
                typeset -A opt_args
                _arguments -C \\
            \(arguments) \\
                    '1:command:->command' \\
                    '*::argument:->argument' && return
                case $state in
                    command)
                        local -a commands=(
            \(commandList(spec))
                        )
                        _describe -t commands command commands ;;
                    argument)
                        case $words[1] in
            \(dispatch(path: path, spec: spec))
                        esac ;;
                esac
            }
            """
    }

    private func commandList(_ spec: CommandSpec) -> String {
        spec.visibleSubcommands.map { child in
            let entry = child.name.replacingOccurrences(of: ":", with: "\\:") + ":"
                + child.abstract
            return "                " + Self.quoted(entry)
        }.joined(separator: "\n")
    }

    private func dispatch(path: [String], spec: CommandSpec) -> String {
        spec.visibleSubcommands.map { child in
            "                (\(child.name)) \(Self.functionName(path + [child.name])) ;;"
        }.joined(separator: "\n")
    }

    private func positionalSpecs(_ spec: CommandSpec) -> [String] {
        guard spec.visibleSubcommands.isEmpty else { return [] }
        return spec.arguments.map { argument in
            let prefix = argument.isRepeating ? "*" : (argument.isOptional ? ":" : "")
            let action = action(argument.kind)
            return Self.quoted("\(prefix):\(Self.message(argument.name)):\(action)")
        }
    }

    /// `'--uid=[The user id (mid) to push to.]:uid: '` or `'(-h --help)'{-h,--help}'[...]'`.
    private func optionSpec(_ option: OptionSpec) -> String {
        var tail = "[\(Self.description(option.abstract))]"
        if let kind = option.valueKind {
            tail += ":\(Self.message(option.valueName ?? "value")):\(action(kind))"
        }
        let repeats = option.isRepeating ? "*" : ""
        let long = repeats + "--\(option.long)" + (option.takesValue ? "=" : "")
        guard let short = option.short else { return Self.quoted(long + tail) }

        let exclusions = Self.quoted("(-\(short) --\(option.long))")
        let shortName = "-\(short)" + (option.takesValue ? "+" : "")
        return exclusions + "{\(shortName),\(long)}" + Self.quoted(tail)
    }

    private func action(_ kind: ValueKind) -> String {
        switch kind {
        case .choice(let words): return "(\(words.joined(separator: " ")))"
        case .file: return "_files"
        case .commandPath:
            let names = commands.first?.spec.visibleSubcommands.map(\.name) ?? []
            return "(\(names.joined(separator: " ")))"
        case .string, .integer, .duration, .size, .address, .url: return " "
        }
    }

    private static func description(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "[", with: "\\[")
            .replacingOccurrences(of: "]", with: "\\]")
    }

    private static func message(_ text: String) -> String {
        text.replacingOccurrences(of: ":", with: "\\:")
    }

    static func quoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

// MARK: - fish

/// The fish script: `complete` lines guarded by `__imctl_at 'imctl PATH' [POSITIONALS]`, where
/// `__imctl_state` walks the command line with lookup functions generated from the tree.
private struct FishCompletion {
    let commands: [(path: [String], spec: CommandSpec)]

    var script: String {
        var parts = [header, subcommandsFunction, valueOptionsFunction, walker]
        parts.append(commands.map(completions).joined(separator: "\n"))
        return parts.joined(separator: "\n\n") + "\n"
    }

    private var header: String {
        """
        # fish completion for imctl,
        # \(CompletionRenderer.generatedNotice(.fish))
        # Install it as ~/.config/fish/completions/imctl.fish, or source it.
        """
    }

    private var subcommandsFunction: String {
        let cases = commands.filter { !$0.spec.visibleSubcommands.isEmpty }.map { command in
            (Self.path(command.path), command.spec.visibleSubcommands.map(\.name))
        }
        return switchFunction(
            "__imctl_subcommands", "the subcommands of the command at PATH", cases)
    }

    private var valueOptionsFunction: String {
        let cases = commands.map { command in
            let options = command.spec.options.filter(\.takesValue)
            let shortNames = options.compactMap(\.short).map { "-\($0)" }
            let names = options.map { "--\($0.long)" } + shortNames
            return (Self.path(command.path), names)
        }.filter { !$0.1.isEmpty }
        return switchFunction(
            "__imctl_value_options", "the options of the command at PATH that take a value", cases)
    }

    private func switchFunction(_ name: String, _ comment: String, _ cases: [(String, [String])])
        -> String
    {
        let body = cases.map { path, words in
            let quotedWords = words.map(Self.quoted).joined(separator: " ")
            return "        case \(path)\n            printf '%s\\n' \(quotedWords)"
        }.joined(separator: "\n")
        return """
            # \(name) PATH: \(comment).
            function \(name)
                switch $argv[1]
            \(body)
                end
            end
            """
    }

    private var walker: String {
        """
        # __imctl_state: prints 'imctl PATH' for the command being completed, then the number of
        # positionals typed so far, walking the words as imctl's parser does.
        function __imctl_state
            set -l words (commandline -opc)
            set -e words[1]
            set -l path imctl
            set -l positionals 0
            set -l value_next 0
            set -l dashes 0
            for word in $words
                if test $value_next = 1
                    set value_next 0
                else if test $dashes = 1
                    set positionals (math $positionals + 1)
                else if test "$word" = --
                    set dashes 1
                else if string match -q -- '--*=*' $word
                    continue
                else if string match -q -- '-?*' $word
                    if contains -- $word (__imctl_value_options "$path")
                        set value_next 1
                    end
                else if test $positionals = 0; and contains -- $word (__imctl_subcommands "$path")
                    set path "$path $word"
                else
                    set positionals (math $positionals + 1)
                end
            end
            printf '%s\\n' "$path" $positionals
        end

        # __imctl_at PATH [COUNT]: whether the command being completed is PATH (with COUNT
        # positionals so far).
        function __imctl_at
            set -l state (__imctl_state)
            test "$state[1]" = "$argv[1]"; or return 1
            test (count $argv) -lt 2; or test "$state[2]" = "$argv[2]"
        end

        complete -c imctl -f
        """
    }

    private func completions(_ command: (path: [String], spec: CommandSpec)) -> String {
        let condition = "__imctl_at \(Self.path(command.path))"
        var lines = command.spec.visibleSubcommands.map { child in
            "complete -c imctl -n \(Self.quoted(condition)) -a \(Self.quoted(child.name))"
                + " -d \(Self.quoted(Self.description(child.abstract)))"
        }
        lines += command.spec.options.map { option in
            "complete -c imctl -n \(Self.quoted(condition)) " + optionFlags(option)
        }
        if command.spec.visibleSubcommands.isEmpty {
            lines += command.spec.arguments.enumerated().flatMap { index, argument in
                argumentLines(argument, index: index, path: command.path)
            }
        }
        return lines.joined(separator: "\n")
    }

    private func optionFlags(_ option: OptionSpec) -> String {
        var words: [String] = []
        if let short = option.short { words.append("-s \(short)") }
        words.append("-l \(option.long)")
        switch option.valueKind {
        case .none: break
        case .file?: words.append("-r -F")
        case .some(let kind): words.append("-x" + values(kind))
        }
        words.append("-d \(Self.quoted(Self.description(option.abstract)))")
        return words.joined(separator: " ")
    }

    private func argumentLines(_ argument: ArgumentSpec, index: Int, path: [String])
        -> [String]
    {
        let start = "complete -c imctl -n \(Self.quoted("__imctl_at \(Self.path(path)) \(index)"))"
        let described = " -d \(Self.quoted(Self.description(argument.abstract)))"
        switch argument.kind {
        case .file:
            return [start + " -F" + described]
        case .choice:
            return [start + values(argument.kind) + described]
        case .commandPath:
            let names = commands.first?.spec.visibleSubcommands ?? []
            return names.map { command in
                "\(start) -a \(Self.quoted(command.name))"
                    + " -d \(Self.quoted(Self.description(command.abstract)))"
            }
        case .string, .integer, .duration, .size, .address, .url:
            return []
        }
    }

    /// ` -a 'a b c'` for choices and command names, else empty (free text).
    private func values(_ kind: ValueKind) -> String {
        switch kind {
        case .choice(let words):
            return " -a \(Self.quoted(words.joined(separator: " ")))"
        case .commandPath:
            let names = commands.first?.spec.visibleSubcommands.map(\.name) ?? []
            return " -a \(Self.quoted(names.joined(separator: " ")))"
        case .string, .integer, .duration, .size, .address, .url, .file:
            return ""
        }
    }

    /// `'imctl serve all'`.
    private static func path(_ words: [String]) -> String {
        quoted((["imctl"] + words).joined(separator: " "))
    }

    /// fish's style: no final period.
    private static func description(_ text: String) -> String {
        text.hasSuffix(".") ? String(text.dropLast()) : text
    }

    static func quoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
