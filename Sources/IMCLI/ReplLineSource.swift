import Foundation

/// What reading one REPL line gave.
enum ReplRead: Equatable {
    case line(String)
    /// Ctrl-C: the line being typed was thrown away.
    case interrupted
    /// A line longer than `Repl.maxLineLength` was skipped.
    case tooLong
    /// Reading failed; the message fits after `Error: `.
    case failed(String)
    /// End of input: Ctrl-D on an empty line, or the end of a pipe or file.
    case end
}

/// Where REPL lines come from: the line editor, a pipe, or a list (tests).
protocol ReplLineSource {
    /// The next line without its line break; only interactive sources show `prompt`.
    mutating func read(prompt: String) -> ReplRead

    /// Offers an accepted line to the editor's own history (Up, Ctrl-R).
    mutating func remember(_ line: String)
}

extension ReplLineSource {
    mutating func remember(_ line: String) {}
}

/// Lines known up front: a test's script, or input that was read whole.
struct ListedLines: ReplLineSource {
    private var lines: ArraySlice<String>

    init(_ lines: [String]) {
        self.lines = lines[...]
    }

    /// The lines of everything `input` holds (a trailing `\r` is dropped from each).
    init(readingAllOf input: any CommandInput) throws(CommandError) {
        let bytes: [UInt8]
        do {
            bytes = try input.readAll(limit: AdminCommands.maxMessageSize)
        } catch {
            throw .failure("cannot read the commands from standard input: \(error)")
        }
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .map { DescriptorLines.decode($0) }
        self.init(lines.last == "" ? Array(lines.dropLast()) : lines)
    }

    mutating func read(prompt: String) -> ReplRead {
        guard let line = lines.popFirst() else { return .end }
        return line.utf8.count > Repl.maxLineLength ? .tooLong : .line(line)
    }
}

/// Lines read from a descriptor (a pipe, a file) as they arrive, without a prompt, each at
/// most `Repl.maxLineLength` bytes; memory stays bounded by that.
struct DescriptorLines: ReplLineSource {
    let fd: Int32
    let interrupts: ReplInterrupts?
    private var buffer: [UInt8] = []
    private var atEnd = false
    /// Bytes of an over-long line are being dropped up to its line break.
    private var skipping = false

    init(fd: Int32, interrupts: ReplInterrupts?) {
        self.fd = fd
        self.interrupts = interrupts
    }

    mutating func read(prompt: String) -> ReplRead {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Self.decode(buffer[..<newline])
                buffer.removeSubrange(...newline)
                return endLine(line)
            }
            if buffer.count > Repl.maxLineLength {
                buffer.removeAll()
                skipping = true
            }
            if atEnd {
                guard !buffer.isEmpty || skipping else { return .end }
                let line = Self.decode(buffer[...])
                buffer.removeAll()
                return endLine(line)
            }
            if let stopped = fill() { return stopped }
        }
    }

    private mutating func endLine(_ line: String) -> ReplRead {
        guard skipping else { return .line(line) }
        skipping = false
        return .tooLong
    }

    /// Reads more input; non-nil when reading stopped (Ctrl-C or an error).
    private mutating func fill() -> ReplRead? {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                buffer.append(contentsOf: chunk[..<count])
                return nil
            }
            if count == 0 {
                atEnd = true
                return nil
            }
            guard errno == EINTR else {
                return .failed("cannot read standard input: \(String(cString: strerror(errno)))")
            }
            if interrupts?.takeInterrupt() == true { return .interrupted }
        }
    }

    /// A line's bytes as text: UTF-8 (invalid bytes replaced), a trailing `\r` dropped.
    static func decode(_ bytes: ArraySlice<UInt8>) -> String {
        let trimmed = bytes.last == UInt8(ascii: "\r") ? bytes.dropLast() : bytes
        return String(decoding: trimmed, as: UTF8.self)
    }
}
