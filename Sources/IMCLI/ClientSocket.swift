import CLinux
import Foundation

/// Why a client socket operation failed; `description` is one line for an `Error:` message.
public struct SocketError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }

    static func system(_ what: String, _ code: Int32) -> SocketError {
        SocketError("\(what): \(String(cString: strerror(code)))")
    }

    static let timedOut = SocketError("timed out")

    /// The caller's `StopSignal` fired (Ctrl-C in the REPL).
    static let interrupted = SocketError("interrupted")
}

/// A connected TCP socket for the CLI's blocking clients. Every call waits at most until a
/// deadline (poll on a non-blocking descriptor), so a silent server cannot hang the command.
/// Writes use `MSG_NOSIGNAL`: a peer that went away is an error, not a SIGPIPE. A wait also
/// ends, with `SocketError.interrupted`, when the optional stop signal fires.
final class ClientSocket {
    let fd: Int32
    private let stop: StopSignal?

    private init(fd: Int32, stop: StopSignal?) {
        self.fd = fd
        self.stop = stop
    }

    deinit {
        close(fd)
    }

    /// Resolves `host` and connects to the first address that answers before `deadline`
    /// (or until `stop` fires).
    static func connect(
        host: String, port: UInt16, deadline: ContinuousClock.Instant, stop: StopSignal? = nil
    ) throws(SocketError) -> ClientSocket {
        let target = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var lastError = SocketError("cannot connect to \(target): no address found")
        for address in try resolve(host: host.isEmpty ? "127.0.0.1" : host, port: port) {
            do {
                return try connect(to: address, deadline: deadline, stop: stop)
            } catch .interrupted {
                throw .interrupted
            } catch {
                lastError = SocketError("cannot connect to \(target): \(error.description)")
            }
        }
        throw lastError
    }

    private static func resolve(host: String, port: UInt16) throws(SocketError) -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else {
            throw SocketError("cannot resolve '\(host)': \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }

        var addresses: [[UInt8]] = []
        var entry = list
        while let info = entry?.pointee {
            let bytes = UnsafeRawBufferPointer(start: info.ai_addr, count: Int(info.ai_addrlen))
            addresses.append(Array(bytes))
            entry = info.ai_next
        }
        return addresses
    }

    private static func connect(
        to address: [UInt8], deadline: ContinuousClock.Instant, stop: StopSignal?
    ) throws(SocketError) -> ClientSocket {
        let family = address.withUnsafeBytes { Int32($0.load(as: sa_family_t.self)) }
        let type = Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
        let fd = socket(family, type, 0)
        guard fd >= 0 else { throw .system("socket", errno) }
        let socket = ClientSocket(fd: fd, stop: stop)

        let status = address.withUnsafeBytes { raw in
            Glibc.connect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self),
                socklen_t(raw.count))
        }
        if status != 0 {
            guard errno == EINPROGRESS else { throw .system("connect", errno) }
            try socket.wait(for: Int16(POLLOUT), until: deadline)
            try socket.checkConnected()
        }
        socket.setNoDelay()
        return socket
    }

    private func checkConnected() throws(SocketError) {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length) == 0 else {
            throw .system("getsockopt", errno)
        }
        if code != 0 { throw SocketError(String(cString: strerror(code))) }
    }

    private func setNoDelay() {
        var on: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, size)
    }

    /// Sends every byte of `bytes`.
    func send(_ bytes: [UInt8], deadline: ContinuousClock.Instant) throws(SocketError) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent > 0 {
                offset += sent
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                try wait(for: Int16(POLLOUT), until: deadline)
            } else if errno != EINTR {
                throw .system("send", errno)
            }
        }
    }

    /// Reads what is available into `buffer` (waiting until `deadline` for something);
    /// returns the byte count, 0 at end of stream.
    func receive(into buffer: inout [UInt8], deadline: ContinuousClock.Instant)
        throws(SocketError) -> Int
    {
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count >= 0 { return count }

            if errno == EAGAIN || errno == EWOULDBLOCK {
                try wait(for: Int16(POLLIN), until: deadline)
            } else if errno != EINTR {
                throw .system("receive", errno)
            }
        }
    }

    /// What one non-blocking read found.
    enum ReadResult: Equatable {
        case bytes(Int)
        case wouldBlock
        case endOfStream
    }

    /// Reads what is available into `buffer` without waiting.
    func readAvailable(into buffer: inout [UInt8]) throws(SocketError) -> ReadResult {
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { return .bytes(count) }
            if count == 0 { return .endOfStream }

            if errno == EAGAIN || errno == EWOULDBLOCK { return .wouldBlock }
            if errno != EINTR { throw .system("receive", errno) }
        }
    }

    /// Waits until the socket is ready for `events`, `deadline` passes or `stop` fires (the
    /// TLS layer over the socket waits here too).
    func wait(for events: Int16, until deadline: ContinuousClock.Instant)
        throws(SocketError)
    {
        var descriptors = [pollfd(fd: fd, events: events, revents: 0)]
        if let stop { descriptors.append(pollfd(fd: stop.fd, events: Int16(POLLIN), revents: 0)) }
        while true {
            let milliseconds = Self.milliseconds(until: deadline)
            guard milliseconds > 0 else { throw .timedOut }

            let ready = poll(&descriptors, nfds_t(descriptors.count), milliseconds)
            if ready < 0 && errno != EINTR { throw .system("poll", errno) }
            if descriptors.count > 1, descriptors[1].revents != 0 { throw .interrupted }
            if descriptors[0].revents != 0 { return }
        }
    }

    /// Whole milliseconds left until `deadline` (rounded up, capped), 0 when it has passed.
    static func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { return 0 }

        let (seconds, attoseconds) = left.components
        let total = min(seconds, 86_400) * 1000 + attoseconds / 1_000_000_000_000_000 + 1
        return Int32(clamping: total)
    }
}
