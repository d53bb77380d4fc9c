import Glibc
import IMCore
import IMNet
import IMTestKit
import Synchronization

/// Small helpers for the IMNet tests: socket pairs, loopback clients, bounded waits.
enum NetTestSupport {
    /// A connected pair of non-blocking Unix stream sockets.
    static func socketPair() throws -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        let type =
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
            | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, type, 0, &fds) == 0 else { throw SystemError.last("socketpair") }
        return (fds[0], fds[1])
    }

    /// A blocking TCP client connected to 127.0.0.1:`port`, with 2 s send/receive timeouts so
    /// a test never blocks for long.
    static func connectClient(port: Int) throws -> Int32 {
        try LoopbackClient.connect(port: port)
    }

    /// Writes all of `bytes` to a blocking descriptor.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written > 0 else { throw SystemError.last("write") }
            offset += written
        }
    }

    /// Reads exactly `count` bytes from a blocking descriptor (its receive timeout bounds it).
    static func readExactly(_ fd: Int32, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let received = bytes[offset...].withUnsafeMutableBytes {
                read(fd, $0.baseAddress, $0.count)
            }
            guard received > 0 else { throw SystemError.last("read") }
            offset += received
        }
        return bytes
    }

    /// Everything currently readable from a non-blocking descriptor.
    static func drain(_ fd: Int32) -> [UInt8] {
        var collected: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let received = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard received > 0 else { return collected }
            collected += buffer[0..<received]
        }
    }

    /// Polls `condition` every 5 ms until it holds or `timeout` passes; whether it held.
    static func waitUntil(
        timeout: Duration = .seconds(5), _ condition: @Sendable () -> Bool
    ) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition()
    }
}

/// A handler for an existing descriptor that records what the loop did with it.
/// Sendable because every field is an atomic or a constant.
final class RecordingHandler: FileHandler, Sendable {
    let fd: Int32
    let readableEvents = Atomic<Int>(0)
    let flushes = Atomic<Int>(0)
    let flushesOnLoop = Atomic<Int>(0)
    let shutdowns = Atomic<Int>(0)
    private let loop: EventLoop

    init(fd: Int32, loop: EventLoop) {
        self.fd = fd
        self.loop = loop
    }

    func handleEvents(_ events: IOEvents) {
        if events.contains(.readable) {
            readableEvents.wrappingAdd(1, ordering: .relaxed)
            _ = NetTestSupport.drain(fd)
        }
    }

    func flush() {
        flushes.wrappingAdd(1, ordering: .relaxed)
        if loop.isCurrent { flushesOnLoop.wrappingAdd(1, ordering: .relaxed) }
    }

    func loopDidShutdown() {
        shutdowns.wrappingAdd(1, ordering: .relaxed)
        close(fd)
    }
}

/// A timer entry that appends its name to a shared log when it fires.
/// `@unchecked Sendable`: it is created by a test and then touched only on one thread (the
/// test's own for a bare wheel, the loop's for a loop wheel).
final class NamedTimer: TimerWheelEntry, @unchecked Sendable {
    let name: String
    let log: FiredLog
    var onFire: ((NamedTimer) -> Void)?

    init(_ name: String, log: FiredLog, onFire: ((NamedTimer) -> Void)? = nil) {
        self.name = name
        self.log = log
        self.onFire = onFire
    }

    override func timerExpired() {
        log.append(name)
        onFire?(self)
    }
}

/// Names of fired timers, in order.
final class FiredLog: Sendable {
    private let names = Mutex<[String]>([])

    func append(_ name: String) { names.withLock { $0.append(name) } }
    var all: [String] { names.withLock { $0 } }
}

/// A counter shared between a test and loop threads.
final class Tally: Sendable {
    private let value = Atomic<Int>(0)

    func add(_ amount: Int = 1) { value.wrappingAdd(amount, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}
