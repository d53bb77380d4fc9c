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

        var line = "\(Logger.timestamp()) \(level) \(label): \(message())"
        for (key, value) in metadata().sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(value)"
        }
        sink(line)
    }

    public func trace(_ m: @autoclosure () -> String, _ md: @autoclosure () -> [String: String] = [:]) {
        log(.trace, m(), md())
    }
    public func debug(_ m: @autoclosure () -> String, _ md: @autoclosure () -> [String: String] = [:]) {
        log(.debug, m(), md())
    }
    public func info(_ m: @autoclosure () -> String, _ md: @autoclosure () -> [String: String] = [:]) {
        log(.info, m(), md())
    }
    public func notice(_ m: @autoclosure () -> String, _ md: @autoclosure () -> [String: String] = [:]) {
        log(.notice, m(), md())
    }
    public func warning(_ m: @autoclosure () -> String, _ md: @autoclosure () -> [String: String] = [:]) {
        log(.warning, m(), md())
    }
    public func error(_ m: @autoclosure () -> String, _ md: @autoclosure () -> [String: String] = [:]) {
        log(.error, m(), md())
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
