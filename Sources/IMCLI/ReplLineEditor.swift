@preconcurrency import CEditLine
import Foundation
import Synchronization

/// Interactive lines through libedit's readline API: the prompt, emacs-style editing, history
/// (Up, Ctrl-R) and Tab completion from `ReplSession.completions`. libedit's own signal
/// handling is off (`rl_catch_signals`); Ctrl-C makes `readline` return nil, which
/// `ReplInterrupts` tells apart from Ctrl-D.
///
/// libedit keeps global state, so there is one editor per process at a time.
struct ReplLineEditor: ReplLineSource {
    private let interrupts: ReplInterrupts
    private let output: any CommandOutput

    init(history: [String], interrupts: ReplInterrupts, output: any CommandOutput) {
        self.interrupts = interrupts
        self.output = output
        Self.useUTF8Characters()
        rl_readline_name = ReplLineEditor.name  // selects `imctl:` lines in ~/.editrc
        rl_catch_signals = 0
        rl_attempted_completion_function = completeReplWord
        using_history()
        stifle_history(Int32(ReplHistory.defaultLimit))
        for line in history { add_history(line) }
    }

    /// libedit reads multibyte characters per the C library's locale, which a Swift program
    /// leaves at "C" (ASCII only: é would be dropped). Take the user's locale, and UTF-8 when
    /// that is plain "C". Only LC_CTYPE changes: Swift strings and Foundation's formatting do
    /// not depend on it.
    private static func useUTF8Characters() {
        setlocale(LC_CTYPE, "")
        let codeset = String(cString: nl_langinfo(nl_item(CODESET)))
        if codeset == "ANSI_X3.4-1968" || codeset == "ASCII" {
            setlocale(LC_CTYPE, "C.UTF-8")
        }
    }

    /// A C string that lives as long as the process, for `rl_readline_name`. Never written
    /// after it is made, so sharing it is safe.
    nonisolated(unsafe) private static let name = UnsafePointer(strdup(CommandTree.toolName)!)

    mutating func read(prompt: String) -> ReplRead {
        _ = interrupts.takeInterrupt()  // a Ctrl-C from a command that already ended
        guard let raw = readline(prompt) else {
            let interrupted = interrupts.takeInterrupt()
            output.write(interrupted ? "^C\n" : "\n")
            return interrupted ? .interrupted : .end
        }
        defer { free(raw) }

        let line = String(cString: raw)
        guard !interrupts.takeInterrupt() else {
            output.write("^C\n")
            return .interrupted
        }
        return .line(line)
    }

    mutating func remember(_ line: String) {
        add_history(line)
    }
}

// MARK: - Tab completion callbacks

/// The matches of the completion in progress: libedit asks for them one by one.
private let pendingMatches = Mutex<(words: [String], next: Int)>(([], 0))

/// `rl_attempted_completion_function`: completes from the command tree, never falling back
/// to file names unless the value is a file.
private func completeReplWord(
    _ text: UnsafePointer<CChar>?, _ start: Int32, _ end: Int32
) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
    rl_attempted_completion_over = 1
    let prefix = text.map { String(cString: $0) } ?? ""
    let line = rl_line_buffer.map { String(cString: $0) } ?? ""
    let before = textBefore(word: prefix, start: Int(start), in: line)

    switch ReplSession.completions(before: before, prefix: prefix) {
    case .nothing:
        return nil
    case .files:
        return rl_completion_matches(text, rl_filename_completion_function)
    case .words(let words):
        guard !words.isEmpty else { return nil }
        pendingMatches.withLock { $0 = (words, 0) }
        return rl_completion_matches(text, nextReplMatch)
    }
}

/// The line up to the word being completed. libedit reports `start` in bytes or in
/// characters depending on the line's content; the one where the word follows is taken.
private func textBefore(word: String, start: Int, in line: String) -> String {
    let bytes = Array(line.utf8)
    if start <= bytes.count,
        let before = String(validating: bytes[..<start], as: UTF8.self),
        line.dropFirst(before.count).hasPrefix(word)
    {
        return before
    }
    return String(line.prefix(start))
}

/// `rl_compentry_func_t`: the next match (malloc'ed, as readline frees it), nil when done.
private func nextReplMatch(_ text: UnsafePointer<CChar>?, _ state: Int32)
    -> UnsafeMutablePointer<CChar>?
{
    pendingMatches.withLock { pending in
        if state == 0 { pending.next = 0 }
        guard pending.next < pending.words.count else { return nil }
        defer { pending.next += 1 }
        return strdup(pending.words[pending.next])
    }
}
