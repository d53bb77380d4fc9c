import Foundation
import Synchronization

/// A small leveled logger in the swift-log shape: a constant message plus metadata. Info is for
/// lifecycle events only; per-connection and per-message events go at debug or trace.
public struct Logger: Sendable {
    public enum Level: Int, Sendable, Comparable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }

        public init?(name: String) {
            guard let level = Level.allCases.first(where: { "\($0)" == name.lowercased() }) else {
                return nil
            }
            self = level
        }
    }

    /// Where log lines go. Tests install a capturing sink; the default writes to stderr.
    public typealias Sink = @Sendable (String) -> Void

    /// A named struct, not a tuple: a closure inside a tuple given to the generic `Mutex` is
    /// stored at the generic abstraction level, and every `withLock` (an inout access) wrapped
    /// the stored sink in two more reabstraction thunks on write-back, so each log call, even
    /// one filtered out, leaked 64 bytes and deepened the sink's call chain.
    private struct State {
        var level: Level
        var sink: Sink
    }

    private static let state = Mutex(State(level: .info, sink: Logger.stderrSink))

    public static let stderrSink: Sink = { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// The process-wide level and sink, set once at start-up by the CLI (or by a test).
    public static func configure(level: Level, sink: Sink? = nil) {
        state.withLock { state in
            state.level = level
            if let sink { state.sink = sink }
        }
    }

    public static var level: Level { state.withLock { $0.level } }

    public let label: String

    public init(label: String) {
        self.label = label
    }

    public func isEnabled(_ level: Level) -> Bool { level >= Logger.level }

    public func log(
        _ level: Level, _ message: @autoclosure () -> String,
        _ metadata: @autoclosure () -> [String: String] = [:]
    ) {
        // The sink is read only for lines that are written: a dropped line costs one lock.
        guard level >= Logger.level else { return }
        let sink = Logger.state.withLock { $0.sink }

        var line = "\(Logger.timestamp()) \(level) \(label): \(Self.escaped(message()))"
        for (key, value) in metadata().sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(Self.escaped(value))"
        }
        sink(line)
    }

    /// `text` with control characters written as `\n`, `\r`, `\t` or `\u{..}`: values often
    /// come from peers (addresses, tokens, error texts), and one must not forge a log line or
    /// send escape sequences to a terminal.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }

        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where isControl(scalar):
                result += "\\u{\(String(scalar.value, radix: 16))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// Key-value pairs of a log line, written sorted by key.
    public typealias Metadata = [String: String]

    public func trace(
        _ message: @autoclosure () -> String, _ metadata: @autoclosure () -> Metadata = [:]
    ) {
        log(.trace, message(), metadata())
    }

    public func debug(
        _ message: @autoclosure () -> String, _ metadata: @autoclosure () -> Metadata = [:]
    ) {
        log(.debug, message(), metadata())
    }

    public func info(
        _ message: @autoclosure () -> String, _ metadata: @autoclosure () -> Metadata = [:]
    ) {
        log(.info, message(), metadata())
    }

    public func notice(
        _ message: @autoclosure () -> String, _ metadata: @autoclosure () -> Metadata = [:]
    ) {
        log(.notice, message(), metadata())
    }

    public func warning(
        _ message: @autoclosure () -> String, _ metadata: @autoclosure () -> Metadata = [:]
    ) {
        log(.warning, message(), metadata())
    }

    public func error(
        _ message: @autoclosure () -> String, _ metadata: @autoclosure () -> Metadata = [:]
    ) {
        log(.error, message(), metadata())
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var tm = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &tm)
        let millis = now.tv_nsec / 1_000_000
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
            tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis)
    }
}
