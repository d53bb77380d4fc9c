import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The end of a bounded wait of a blocking test client.
struct TestDeadline {
    let end: ContinuousClock.Instant

    init(seconds: TimeInterval) {
        end = .now + .milliseconds(Int64(max(seconds, 0) * 1000))
    }

    var remainingSeconds: TimeInterval {
        let left = ContinuousClock.now.duration(to: end)
        return max(
            Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18, 0)
    }

    var remainingMilliseconds: Int32 {
        Int32(min(remainingSeconds * 1000, Double(Int32.max)).rounded(.up))
    }
}

/// Why a socket call of a test client failed; each client turns it into its own public error.
enum BoundedSocketError: Error {
    case resolve(host: String, reason: String)
    case connect(errno: Int32)
    case timeout(String)
    case io(operation: String, errno: Int32)
}

/// The socket plumbing under the blocking test clients (goim over TCP and over WebSocket): a
/// connected non-blocking descriptor, and calls that each wait at most until a deadline.
enum BoundedSocket {
    /// What one bounded read found.
    enum ReadResult {
        /// Bytes were handed over, or the wake-up was spurious (nothing to read after all).
        case progress
        /// The peer closed the connection (end of stream or reset).
        case endOfStream
        /// Nothing arrived before the deadline.
        case timedOut
    }

    /// Waits for `events` on `fd` until the deadline; false on timeout.
    static func waitFor(_ events: Int32, fd: Int32, deadline: TestDeadline)
        throws(BoundedSocketError) -> Bool
    {
        while true {
            var request = pollfd(fd: fd, events: Int16(events), revents: 0)
            let ready = poll(&request, 1, deadline.remainingMilliseconds)
            if ready > 0 { return true }
            if ready == 0 { return false }
            guard errno == EINTR else { throw .io(operation: "poll", errno: errno) }
        }
    }

    /// Waits until the deadline for something to read, reads it (one `recv`, 64 KiB at most)
    /// and hands the bytes to `consume`, which must not keep the buffer.
    static func read(
        fd: Int32, deadline: TestDeadline, into consume: (UnsafeRawBufferPointer) -> Void
    ) throws(BoundedSocketError) -> ReadResult {
        guard try waitFor(Int32(POLLIN), fd: fd, deadline: deadline) else { return .timedOut }

        let (count, code) = withUnsafeTemporaryAllocation(byteCount: 64 << 10, alignment: 1) {
            buffer in
            let count = recv(fd, buffer.baseAddress, buffer.count, 0)
            let code = errno
            if count > 0 { consume(UnsafeRawBufferPointer(rebasing: buffer[0..<count])) }
            return (count, code)
        }
        if count > 0 { return .progress }
        if count == 0 || code == ECONNRESET { return .endOfStream }
        guard code == EAGAIN || code == EWOULDBLOCK || code == EINTR else {
            throw .io(operation: "recv", errno: code)
        }
        return .progress
    }

    /// Sends every byte of `bytes`, waiting (until the deadline) while the socket is full.
    static func sendAll(_ bytes: [UInt8], fd: Int32, deadline: TestDeadline)
        throws(BoundedSocketError)
    {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if count > 0 {
                sent += count
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                guard try waitFor(Int32(POLLOUT), fd: fd, deadline: deadline) else {
                    throw .timeout("the socket to accept more data")
                }
            } else if errno != EINTR {
                throw .io(operation: "send", errno: errno)
            }
        }
    }
}

// MARK: - Connecting

extension BoundedSocket {
    /// A connected non-blocking socket (`TCP_NODELAY`) to the first address of `host` (a name
    /// or an IPv4/IPv6 literal; `0.0.0.0` means loopback) that answers before `timeout`.
    ///
    /// - Parameter receiveBufferSize: sets `SO_RCVBUF` before connecting, so a test that then
    ///   stops reading makes the server's writes back up quickly.
    static func connect(
        host: String, port: UInt16, timeout: TimeInterval, receiveBufferSize: Int? = nil
    ) throws(BoundedSocketError) -> Int32 {
        let name = host == "0.0.0.0" ? "127.0.0.1" : host
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw .resolve(host: name, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }

        let deadline = TestDeadline(seconds: timeout)
        var lastError = BoundedSocketError.connect(errno: ECONNREFUSED)
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            do throws(BoundedSocketError) {
                return try connect(
                    to: info.pointee, deadline: deadline, receiveBufferSize: receiveBufferSize)
            } catch {
                lastError = error
            }
            candidate = info.pointee.ai_next
        }
        throw lastError
    }

    private static func connect(
        to info: addrinfo, deadline: TestDeadline, receiveBufferSize: Int?
    ) throws(BoundedSocketError) -> Int32 {
        let type =
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
            | Int32(SOCK_CLOEXEC.rawValue)
        let fd = socket(info.ai_family, type, 0)
        guard fd >= 0 else { throw .io(operation: "socket", errno: errno) }

        do throws(BoundedSocketError) {
            try configure(fd, receiveBufferSize: receiveBufferSize)
            try finishConnect(fd, to: info, deadline: deadline)
            return fd
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    private static func configure(_ fd: Int32, receiveBufferSize: Int?)
        throws(BoundedSocketError)
    {
        var noDelay: Int32 = 1
        _ = setsockopt(
            fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))

        guard let receiveBufferSize else { return }
        var size = Int32(clamping: receiveBufferSize)
        guard setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) == 0
        else {
            throw .io(operation: "setsockopt(SO_RCVBUF)", errno: errno)
        }
    }

    private static func finishConnect(_ fd: Int32, to info: addrinfo, deadline: TestDeadline)
        throws(BoundedSocketError)
    {
        if Glibc.connect(fd, info.ai_addr, info.ai_addrlen) == 0 { return }
        guard errno == EINPROGRESS || errno == EINTR else { throw .connect(errno: errno) }

        guard try waitFor(Int32(POLLOUT), fd: fd, deadline: deadline) else {
            throw .timeout("the connection to be accepted")
        }
        var failure: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length)
        guard failure == 0 else { throw .connect(errno: failure) }
    }
}

/// A blocking TCP client for tests that drive a server by hand (raw bytes, TLS records).
public enum LoopbackClient {
    public struct ConnectError: Error, CustomStringConvertible {
        public let description: String
    }

    /// A blocking socket connected to 127.0.0.1:`port`, whose sends and receives give up
    /// after `ioTimeout` seconds so a test never blocks for long.
    ///
    /// - Parameter receiveBufferSize: sets `SO_RCVBUF` before connecting, so a test that then
    ///   stops reading makes the server's writes back up quickly.
    public static func connect(
        port: Int, ioTimeout: Int = 2, receiveBufferSize: Int? = nil
    ) throws -> Int32 {
        let fd: Int32
        do {
            fd = try BoundedSocket.connect(
                host: "127.0.0.1", port: UInt16(port), timeout: TimeInterval(ioTimeout),
                receiveBufferSize: receiveBufferSize)
        } catch {
            throw ConnectError(description: "connect to 127.0.0.1:\(port): \(error)")
        }

        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var timeout = timeval(tv_sec: ioTimeout, tv_usec: 0)
        let size = socklen_t(MemoryLayout<timeval>.size)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, size)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, size)
        return fd
    }
}
