import COpenSSL
import Glibc
import IMCore

/// TLS on one non-blocking socket: an OpenSSL `SSL` bound to the descriptor with `SSL_set_fd`.
///
/// Why the socket itself rather than memory BIOs: OpenSSL then reads records straight from the
/// kernel and writes them straight back, with no second copy and no per-connection ciphertext
/// buffers of ours; with `SSL_MODE_RELEASE_BUFFERS` an idle session holds no I/O buffer at all.
/// Memory BIOs would only pay off for a transport that is not a descriptor.
///
/// Every call returns at once: `.wantRead` / `.wantWrite` say which readiness to wait for
/// before calling the same method again (a read can want a write, and a write a read, when the
/// peer starts a key update). The session never closes `fd`.
///
/// Reading on a level-triggered loop: OpenSSL reads a record from the socket whole, and a
/// record (up to 16 KiB) can hold more than the caller's buffer takes. Those decrypted bytes
/// sit inside the session where epoll cannot see them, so after `.bytes` check
/// `hasBufferedInput`: while it is true, read again (or, after a per-wake bound, schedule
/// yourself, e.g. with `EventLoop.scheduleFlush`, and read in `flush()`). When it is false,
/// anything more is still in the kernel and the loop reports it. Read-ahead stays off so that
/// whole unread records never pile up inside OpenSSL unseen.
///
/// Not thread-safe: owned by one connection on one loop.
public final class TLSSession {
    /// How a `handshake()` call ended.
    public enum HandshakeResult: Sendable, Equatable {
        /// The handshake is complete; `read` and `write` may be used.
        case done
        /// Wait until the socket is readable, then call `handshake()` again.
        case wantRead
        /// Wait until the socket is writable, then call `handshake()` again.
        case wantWrite
        /// The handshake failed; close the connection (no `shutdown()` needed).
        case failed(TLSError)
    }

    /// How a `read(into:)` call ended.
    public enum ReadResult: Sendable, Equatable {
        /// This many decrypted bytes (at least 1) are at the start of the buffer.
        case bytes(Int)
        /// Nothing decrypted is available; wait until the socket is readable.
        case wantRead
        /// OpenSSL must send before it can read on; wait until the socket is writable.
        case wantWrite
        /// The peer closed the connection (close_notify, or end of stream without it).
        case closed
        /// The connection is broken (bad record, reset); close it without `shutdown()`.
        case failed(TLSError)
    }

    /// How a `write(_:)` call ended.
    public enum WriteResult: Sendable, Equatable {
        /// The first `n` bytes were sent (n may be less than asked: one record per call at
        /// most); pass the rest next time.
        case wrote(Int)
        /// Nothing was taken; wait until the socket is writable and call `write` again with the
        /// same bytes (at the same or another address, possibly followed by more).
        case wantWrite
        /// As `wantWrite`, but wait until the socket is readable.
        case wantRead
        /// The connection is broken; close it without `shutdown()`.
        case failed(TLSError)
    }

    /// The descriptor, not owned: the caller closes it after the session is done.
    public let fd: Int32

    private let ssl: OpaquePointer
    /// Set after a fatal error: OpenSSL forbids `SSL_shutdown` from then on.
    private var isBroken = false

    private static let logger = Logger(label: "imnet.tls")

    /// A session for the connected socket `fd` (non-blocking for use on an event loop; a
    /// blocking socket makes each call block instead of returning a want result).
    ///
    /// - Parameters:
    ///   - context: a server context accepts the handshake, a client context starts it.
    ///   - serverName: client sessions only (servers ignore it): the name the server's
    ///     certificate must match, also sent as SNI unless it is an IP address (then the
    ///     certificate must list that IP). Nil: the chain is verified but any name is accepted.
    /// - Throws: `TLSError` (`.setupFailed`) when OpenSSL cannot create the session.
    public init(context: TLSContext, fd: Int32, serverName: String? = nil) throws {
        guard let ssl = SSL_new(context.handle) else {
            throw TLSError.fromErrorQueue(.setupFailed, "cannot create a TLS session")
        }
        self.ssl = ssl
        self.fd = fd

        guard SSL_set_fd(ssl, fd) == 1 else {
            throw TLSError.fromErrorQueue(.setupFailed, "cannot attach a TLS session to fd \(fd)")
        }
        if context.isServer {
            SSL_set_accept_state(ssl)
        } else {
            SSL_set_connect_state(ssl)
            if let serverName { try expect(serverName: serverName) }
        }
    }

    deinit {
        SSL_free(ssl)
    }

    private func expect(serverName: String) throws {
        if Self.isIPAddress(serverName) {
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName) == 1 else {
                throw TLSError.fromErrorQueue(.setupFailed, "cannot expect IP '\(serverName)'")
            }
            return
        }

        guard copenssl_set_tlsext_host_name(ssl, serverName) == 1,
            SSL_set1_host(ssl, serverName) == 1
        else {
            throw TLSError.fromErrorQueue(.setupFailed, "cannot expect host '\(serverName)'")
        }
    }

    private static func isIPAddress(_ name: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET, name, &address) == 1 || inet_pton(AF_INET6, name, &address) == 1
    }
}

// MARK: - State

extension TLSSession {
    /// Whether the handshake has completed.
    public var isHandshakeComplete: Bool { SSL_is_init_finished(ssl) == 1 }

    /// Whether decrypted bytes wait inside the session, where the event loop cannot see them:
    /// read again before waiting for readability.
    public var hasBufferedInput: Bool { SSL_pending(ssl) > 0 }

    /// The negotiated protocol, such as `"TLSv1.3"` (before the handshake: what is attempted).
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The negotiated cipher suite, or nil before the handshake.
    public var cipherSuite: String? {
        guard let cipher = SSL_get_current_cipher(ssl) else { return nil }
        return String(cString: SSL_CIPHER_get_name(cipher))
    }
}

// MARK: - Handshake

extension TLSSession {
    /// Advances the handshake as far as the socket allows. Call it when the connection is
    /// accepted (or connected) and again on each readiness it asks for, until `.done`; after
    /// `.done` it keeps returning `.done`. Bound its total time with a timer: a peer that
    /// stops half-way is never detected here.
    public func handshake() -> HandshakeResult {
        guard !isBroken else {
            return .failed(TLSError(.handshakeFailed, "handshake already failed"))
        }

        guard !isHandshakeComplete else { return .done }

        Self.clearErrors()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            TLSMetrics.handshakesCompleted.increment()
            return .done
        }

        let systemError = errno
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case let failure: return .failed(handshakeFailure(failure, errno: systemError))
        }
    }

    private func handshakeFailure(_ failure: Int32, errno systemError: Int32) -> TLSError {
        isBroken = true
        TLSMetrics.handshakeFailures.increment()
        let error = describeHandshakeFailure(failure, errno: systemError)
        Self.logger.debug("TLS handshake failed", ["conn.fd": "\(fd)", "error": error.message])
        return error
    }

    private func describeHandshakeFailure(_ failure: Int32, errno systemError: Int32) -> TLSError {
        let verification = SSL_get_verify_result(ssl)
        if verification != X509_V_OK {
            let reason = String(cString: X509_verify_cert_error_string(verification))
            return TLSError.fromErrorQueue(
                .verificationFailed, "TLS handshake failed: certificate verify failed: \(reason)")
        }

        switch failure {
        case SSL_ERROR_ZERO_RETURN:
            _ = TLSError.drainErrorQueue()
            return TLSError(.handshakeFailed, "TLS handshake failed: peer closed the connection")
        case SSL_ERROR_SYSCALL where ERR_peek_error() == 0:
            guard systemError != 0 else {
                return TLSError(
                    .handshakeFailed, "TLS handshake failed: peer closed the connection")
            }
            return TLSError.system("TLS handshake failed", errno: systemError)
        default:
            return TLSError.fromErrorQueue(.handshakeFailed, "TLS handshake failed")
        }
    }
}

// MARK: - Reading and writing

extension TLSSession {
    /// Decrypts into `buffer` (not empty): at most one record's worth per call (16 KiB). Runs
    /// the handshake first if it is not done. See the type's notes on `hasBufferedInput`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        precondition(buffer.count > 0, "TLSSession.read needs a non-empty buffer")
        guard !isBroken else { return .failed(TLSError(.protocolFailure, "session is broken")) }

        Self.clearErrors()
        var count = 0
        let result = SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count)
        if result == 1 { return .bytes(count) }

        let systemError = errno
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        case let failure: return .failed(ioFailure(failure, errno: systemError, during: "read"))
        }
    }

    /// Encrypts and sends the start of `bytes`: one TLS record (up to 16 KiB) per call. On a
    /// want result the caller must retry with the same bytes before writing anything else
    /// (OpenSSL has already taken them into a record); they may be at another address and
    /// followed by more bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) -> WriteResult {
        guard !bytes.isEmpty else { return .wrote(0) }
        guard !isBroken else { return .failed(TLSError(.protocolFailure, "session is broken")) }

        Self.clearErrors()
        var count = 0
        let result = SSL_write_ex(ssl, bytes.baseAddress, bytes.count, &count)
        if result == 1 { return .wrote(count) }

        let systemError = errno
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_WANT_READ: return .wantRead
        case let failure: return .failed(ioFailure(failure, errno: systemError, during: "write"))
        }
    }

    /// Sends close_notify, once, if the session is established and healthy: best effort, never
    /// waits (an unsent alert is dropped), and does not wait for the peer's reply. Close the
    /// descriptor afterwards. Whether the alert was handed to the socket.
    @discardableResult
    public func shutdown() -> Bool {
        guard !isBroken, isHandshakeComplete else { return false }

        ERR_clear_error()
        let result = SSL_shutdown(ssl)
        if result < 0 {
            _ = TLSError.drainErrorQueue()
            isBroken = true
        }
        return result >= 0
    }

    /// Empties OpenSSL's error queue and `errno` before a call, so that what they hold after
    /// it belongs to that call (an end of stream sets neither).
    private static func clearErrors() {
        ERR_clear_error()
        errno = 0
    }

    private func ioFailure(_ failure: Int32, errno systemError: Int32, during: String) -> TLSError {
        isBroken = true
        if failure == SSL_ERROR_SYSCALL, ERR_peek_error() == 0 {
            // errno 0: end of stream in the middle of a write, the peer went away.
            return TLSError.system(
                "TLS \(during) failed", errno: systemError == 0 ? EPIPE : systemError)
        }
        if failure == SSL_ERROR_ZERO_RETURN {
            return TLSError(.protocolFailure, "TLS \(during) failed: peer closed the connection")
        }
        return TLSError.fromErrorQueue(.protocolFailure, "TLS \(during) failed")
    }
}

/// Counters for TLS sessions.
public enum TLSMetrics {
    /// Handshakes that completed, server and client.
    public static let handshakesCompleted = Counter(
        "imctl_tls_handshakes_total", help: "TLS handshakes completed")

    /// Handshakes that failed (garbage instead of a ClientHello, verification, peer gone, ...);
    /// each such connection is dropped.
    public static let handshakeFailures = Counter(
        "imctl_tls_handshake_failures_total", help: "TLS handshakes that failed")
}
