import Foundation
import Synchronization

/// Where a command writes its output. Writes are not buffered: a line is visible to a reader
/// (a script on the other end of a pipe) as soon as `write` returns.
public protocol CommandOutput: Sendable {
    func write(_ bytes: [UInt8])

    /// Whether output goes to a terminal (bare `imctl` is interactive only then).
    var isTerminal: Bool { get }
}

extension CommandOutput {
    public func write(_ text: String) {
        write(Array(text.utf8))
    }

    /// Outputs are not terminals unless they say so.
    public var isTerminal: Bool { false }
}

/// Where a command reads standard input from.
public protocol CommandInput: Sendable {
    /// Whether input comes from a terminal (then it is never read implicitly).
    var isTerminal: Bool { get }

    /// Everything up to end of input, unchanged.
    ///
    /// - Throws: `InputError.tooLarge` past `limit` bytes, `InputError.readFailed` on an I/O
    ///   error.
    func readAll(limit: Int) throws(InputError) -> [UInt8]
}

public enum InputError: Error, Sendable, Equatable {
    case tooLarge(limit: Int)
    case readFailed(errno: Int32)
    /// There is no standard input for this command (inside the REPL, it holds the commands).
    case unavailable
}

/// A file descriptor as output (the process's stdout or stderr).
public struct FileDescriptorOutput: CommandOutput {
    public let fd: Int32

    public init(fd: Int32) {
        self.fd = fd
    }

    public var isTerminal: Bool { isatty(fd) == 1 }

    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }  // nowhere left to report it
                offset += written
            }
        }
    }
}

/// A file descriptor as input (the process's stdin).
public struct FileDescriptorInput: CommandInput {
    public let fd: Int32

    public init(fd: Int32) {
        self.fd = fd
    }

    public var isTerminal: Bool { isatty(fd) == 1 }

    public func readAll(limit: Int) throws(InputError) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw .readFailed(errno: errno) }
            guard count > 0 else { return bytes }
            guard bytes.count + count <= limit else { throw .tooLarge(limit: limit) }
            bytes.append(contentsOf: chunk[..<count])
        }
    }
}

/// Output kept in memory: for tests, and for callers that want a command's text.
public final class CapturedOutput: CommandOutput {
    private let bytes = Mutex<[UInt8]>([])

    public init() {}

    public func write(_ newBytes: [UInt8]) {
        bytes.withLock { $0.append(contentsOf: newBytes) }
    }

    /// Everything written so far.
    public var data: [UInt8] { bytes.withLock { $0 } }

    /// Everything written so far, decoded as UTF-8 (invalid bytes replaced).
    public var text: String { String(decoding: data, as: UTF8.self) }
}

/// Input from memory: for tests, and for callers that hand a command its input.
public struct BufferedInput: CommandInput {
    public let bytes: [UInt8]
    public let isTerminal: Bool

    public init(_ bytes: [UInt8] = [], isTerminal: Bool = false) {
        self.bytes = bytes
        self.isTerminal = isTerminal
    }

    public func readAll(limit: Int) throws(InputError) -> [UInt8] {
        guard bytes.count <= limit else { throw .tooLarge(limit: limit) }
        return bytes
    }
}
