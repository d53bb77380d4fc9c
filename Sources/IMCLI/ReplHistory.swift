import Foundation

/// The REPL's history file: where it lives, which lines go in, and keeping it private.
///
/// It is `IMCTL_HISTFILE` when that is set (`/dev/null` means no history), else
/// `$XDG_STATE_HOME/imctl/history`, else `$HOME/.imctl_history`. The directory is created
/// (mode 0700) and the file gets mode 0600. One line per command, oldest first; only the last
/// `limit` lines are kept.
struct ReplHistory: Sendable {
    /// How many lines the file keeps.
    static let defaultLimit = 1000

    /// A longer file is read from this many bytes before its end.
    static let maxReadSize = 4 << 20

    let path: String
    let limit: Int

    init(path: String, limit: Int = defaultLimit) {
        self.path = path
        self.limit = limit
    }

    /// The history for `environment`, or nil when there is none (`IMCTL_HISTFILE=/dev/null`,
    /// or neither `XDG_STATE_HOME` nor `HOME` set).
    init?(environment: [String: String], limit: Int = defaultLimit) {
        guard let path = Self.location(environment: environment) else { return nil }
        self.init(path: path, limit: limit)
    }

    static func location(environment: [String: String]) -> String? {
        if let file = environment["IMCTL_HISTFILE"], !file.isEmpty {
            return file == "/dev/null" ? nil : file
        }
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") {
            return state + "/imctl/history"
        }
        if let home = environment["HOME"], !home.isEmpty {
            return home + "/.imctl_history"
        }
        return nil
    }

    /// Whether `line` belongs in the history: not blank, not starting with a space (the
    /// user's way to keep a line out), not carrying a secret (`--token`), and not a repeat of
    /// `previous`.
    static func shouldRecord(_ line: String, previous: String?) -> Bool {
        guard !line.allSatisfy(\.isWhitespace), !line.hasPrefix(" ") else { return false }
        return !line.contains("--token") && line != previous
    }

    /// The recorded lines, oldest first; an absent or unreadable file is an empty history. A
    /// file longer than `limit` lines is rewritten with the last `limit`.
    func load() -> [String] {
        guard let text = readTail() else { return [] }

        let lines = text.split(separator: "\n").map(String.init)
        guard lines.count > limit else { return lines }
        let kept = Array(lines.suffix(limit))
        try? rewrite(kept)
        return kept
    }

    /// Appends `line`, creating the directory and the file as needed.
    func append(_ line: String) throws(HistoryError) {
        try createDirectory()
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw HistoryError(path: path, errno: errno) }
        defer { close(fd) }

        try makePrivate(fd)
        let bytes = Array((line + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw HistoryError(path: path, errno: errno) }
    }

    /// Keeps a file made earlier (by hand, or by an older version) from staying readable to
    /// others; special files such as a terminal are left alone.
    private func makePrivate(_ fd: Int32) throws(HistoryError) {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw HistoryError(path: path, errno: errno) }
        guard status.st_mode & S_IFMT == S_IFREG, status.st_mode & 0o077 != 0 else { return }
        guard fchmod(fd, 0o600) == 0 else { throw HistoryError(path: path, errno: errno) }
    }

    private func createDirectory() throws(HistoryError) {
        let directory = (path as NSString).deletingLastPathComponent
        guard !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) else {
            return
        }
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw HistoryError(path: directory, errno: EACCES, detail: error.localizedDescription)
        }
    }

    private func readTail() -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }

        guard let size = try? handle.seekToEnd() else { return nil }
        let start = size > UInt64(Self.maxReadSize) ? size - UInt64(Self.maxReadSize) : 0
        guard (try? handle.seek(toOffset: start)) != nil,
            let data = try? handle.readToEnd()
        else { return nil }

        var text = String(decoding: data, as: UTF8.self)
        if start > 0, let firstBreak = text.firstIndex(of: "\n") {
            text = String(text[text.index(after: firstBreak)...])  // drop the cut line
        }
        return text
    }

    private func rewrite(_ lines: [String]) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw HistoryError(path: temporary, errno: errno) }

        let bytes = Array(lines.map { $0 + "\n" }.joined().utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw HistoryError(path: path, errno: errno)
        }
    }
}

/// The history file could not be written; the REPL says so once and goes on without it.
struct HistoryError: Error, Sendable, CustomStringConvertible {
    var path: String
    var errno: Int32
    var detail: String?

    var description: String {
        "\(path): \(detail ?? String(cString: strerror(errno)))"
    }
}
