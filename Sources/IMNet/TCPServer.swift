import CLinux
import Glibc
import IMCore
import Synchronization

/// Opens TCP listeners spread over an event-loop group.
public enum TCPServer {
    /// Called on the loop that accepted the socket, with the socket (non-blocking,
    /// close-on-exec, `TCP_NODELAY`) and the peer's address. The callee owns the socket: it
    /// registers it on that loop (or closes it) and calls `FileLimit.release()` when it closes.
    public typealias AcceptHandler = @Sendable (EventLoop, Int32, SocketAddress) -> Void

    /// Listens on `host:port` with one `SO_REUSEPORT` socket per loop of `group`, so the kernel
    /// spreads connections over the loops and each loop accepts its own.
    ///
    /// - Parameters:
    ///   - host: a dotted IPv4 address (`"0.0.0.0"` for all interfaces, `""` means the same) or
    ///     a host name resolved to its first IPv4 address.
    ///   - port: 0...65535; 0 lets the kernel pick a free port, shared by all the sockets.
    ///   - backlog: the kernel accept queue of each socket (default 1,024).
    ///   - fileLimit: reserves a descriptor per accepted socket and pauses accepting near the
    ///     process's open-file limit (default `FileLimit.shared`).
    ///   - onAccept: receives each accepted socket; see `AcceptHandler`.
    /// - Returns: the listener, with the address actually bound.
    /// - Throws: `SocketAddressError` for a bad port or unknown host, `SystemError` when a
    ///   socket cannot be opened or bound (`EADDRINUSE`, ...).
    public static func listen(
        group: EventLoopGroup, host: String, port: Int, backlog: Int32 = 1024,
        fileLimit: FileLimit = .shared, onAccept: @escaping AcceptHandler
    ) throws -> BoundListener {
        guard (0...65535).contains(port) else {
            throw SocketAddressError(input: "\(host):\(port)", reason: "port must be 0...65535")
        }
        let address = try SocketAddress.resolveIPv4(host)
        let sockets = try openSockets(
            count: group.loops.count, address: address, port: port, backlog: backlog)
        let bound = try SocketAddress(localAddressOf: sockets[0])

        let statistics = ListenerStatistics()
        let acceptors = zip(group.loops, sockets).map { loop, fd in
            LoopConfined(
                Acceptor(
                    fd: fd, loop: loop, fileLimit: fileLimit, statistics: statistics,
                    onAccept: onAccept),
                on: loop)
        }
        for acceptor in acceptors {
            acceptor.loop.execute { acceptor.value.start() }
        }

        Logger(label: "imnet.tcp").debug(
            "listening", ["address": "\(bound)", "loops": "\(sockets.count)"])
        return BoundListener(address: bound, statistics: statistics, acceptors: acceptors)
    }

    /// One listening socket per loop; the first picks the port when `port` is 0.
    private static func openSockets(
        count: Int, address: in_addr, port: Int, backlog: Int32
    ) throws -> [Int32] {
        if port != 0 { try checkPortIsFree(address: address, port: port) }
        var sockets: [Int32] = []
        do {
            var port = port
            for _ in 0..<count {
                let fd = try openListeningSocket(address: address, port: port, backlog: backlog)
                sockets.append(fd)
                if port == 0 { port = try SocketAddress(localAddressOf: fd).port }
            }
            return sockets
        } catch {
            sockets.forEach(System.close)
            throw error
        }
    }

    /// `SO_REUSEPORT` would let our sockets join those of another process listening on the
    /// same port (another imctl, same user) and take half its connections. A socket bound
    /// without it fails with `EADDRINUSE` while any listener holds the port, so bind one
    /// first and let it go. (Two processes starting in the same instant could still both pass.)
    private static func checkPortIsFree(address: in_addr, port: Int) throws {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = Int32(try System.call("socket") { Int(socket(AF_INET, type, 0)) })
        defer { System.close(fd) }
        try System.setSocketOption(
            fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1, label: "SO_REUSEADDR")
        try bind(fd, address: address, port: port)
    }

    private static func openListeningSocket(
        address: in_addr, port: Int, backlog: Int32
    ) throws -> Int32 {
        let type =
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
            | Int32(SOCK_CLOEXEC.rawValue)
        let fd = Int32(try System.call("socket") { Int(socket(AF_INET, type, 0)) })

        do {
            try System.setSocketOption(
                fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1, label: "SO_REUSEADDR")
            try System.setSocketOption(
                fd, level: SOL_SOCKET, name: SO_REUSEPORT, value: 1, label: "SO_REUSEPORT")
            try bind(fd, address: address, port: port)
            _ = try System.call("listen") { Int(Glibc.listen(fd, backlog)) }
            return fd
        } catch {
            System.close(fd)
            throw error
        }
    }

    private static func bind(_ fd: Int32, address: in_addr, port: Int) throws(SystemError) {
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = UInt16(port).bigEndian
        socketAddress.sin_addr = address
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)

        _ = try System.call("bind \(SocketAddress(socketAddress))") {
            withUnsafePointer(to: &socketAddress) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Int(Glibc.bind(fd, $0, size))
                }
            }
        }
    }
}

/// A listener opened by `TCPServer.listen`: one socket per loop, all on `address`.
public final class BoundListener: Sendable {
    /// The address actually bound (the real port when 0 was asked for).
    public let address: SocketAddress
    /// Accept counters, summed over the listener's loops.
    public let statistics: ListenerStatistics

    private let acceptors: [LoopConfined<Acceptor>]

    init(
        address: SocketAddress, statistics: ListenerStatistics, acceptors: [LoopConfined<Acceptor>]
    ) {
        self.address = address
        self.statistics = statistics
        self.acceptors = acceptors
    }

    /// Stops accepting: each loop deregisters and closes its listening socket (asynchronously,
    /// on the loop; connections already accepted are not touched). Idempotent.
    public func close() {
        for acceptor in acceptors {
            acceptor.loop.execute { acceptor.value.close() }
        }
    }
}

/// Counters of one listener (all its loops), readable from any thread.
public final class ListenerStatistics: Sendable {
    let wakeupCount = Atomic<Int>(0)
    let acceptCallCount = Atomic<Int>(0)
    let acceptedCount = Atomic<Int>(0)
    let pauseCount = Atomic<Int>(0)

    /// Readable events handled (each may accept several connections).
    public var wakeups: Int { wakeupCount.load(ordering: .relaxed) }
    /// `accept4` calls made, successful or not.
    public var acceptCalls: Int { acceptCallCount.load(ordering: .relaxed) }
    /// Sockets handed to `onAccept`.
    public var accepted: Int { acceptedCount.load(ordering: .relaxed) }
    /// Times accepting paused at the file limit (or on a resource error).
    public var pauses: Int { pauseCount.load(ordering: .relaxed) }
}

extension SocketAddress {
    /// The local address an IPv4 socket is bound to.
    public init(localAddressOf fd: Int32) throws(SystemError) {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = try System.call("getsockname") {
            withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Int(getsockname(fd, $0, &length))
                }
            }
        }
        self.init(address)
    }
}

/// A loop-confined object carried through `@Sendable` closures back to its own loop.
///
/// `@unchecked Sendable`: `value` is only touched by closures that run on `loop` (its owner
/// executes them there); other threads only hold and pass the reference.
struct LoopConfined<Value: AnyObject>: @unchecked Sendable {
    let value: Value
    let loop: EventLoop

    init(_ value: Value, on loop: EventLoop) {
        self.value = value
        self.loop = loop
    }
}
