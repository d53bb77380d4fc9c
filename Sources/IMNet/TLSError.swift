import COpenSSL
import Glibc

/// A TLS failure: setting up a context (files, keys) or running a session (handshake, I/O).
///
/// `message` is one line for an operator: what failed, the file involved if any, and
/// OpenSSL's reasons drained from the thread's error queue (`"... (PEM routines: no start
/// line)"`). Match on `code`, never on the text.
public struct TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure; compare with the static members (`.keyMismatch`, ...).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String, Sendable {
            case fileNotFound = "file not found"
            case unreadableFile = "unreadable file"
            case invalidCertificate = "invalid certificate"
            case invalidPrivateKey = "invalid private key"
            case keyMismatch = "key does not match certificate"
            case invalidTrustStore = "invalid trust store"
            case setupFailed = "setup failed"
            case handshakeFailed = "handshake failed"
            case verificationFailed = "peer verification failed"
            case protocolFailure = "protocol failure"
            case ioFailure = "I/O failure"
        }

        private let kind: Kind

        private init(_ kind: Kind) {
            self.kind = kind
        }

        /// A configured file does not exist.
        public static let fileNotFound = Code(.fileNotFound)
        /// A configured file exists but cannot be read (permissions, a directory, ...).
        public static let unreadableFile = Code(.unreadableFile)
        /// The certificate chain file holds no usable PEM certificate.
        public static let invalidCertificate = Code(.invalidCertificate)
        /// The private key file holds no usable PEM key (or an encrypted one).
        public static let invalidPrivateKey = Code(.invalidPrivateKey)
        /// The private key is not the certificate's key.
        public static let keyMismatch = Code(.keyMismatch)
        /// The CA file (or the system store) cannot be loaded.
        public static let invalidTrustStore = Code(.invalidTrustStore)
        /// OpenSSL refused a setting or ran out of memory.
        public static let setupFailed = Code(.setupFailed)
        /// The handshake failed: bad ClientHello, no shared cipher or version, peer closed, ...
        public static let handshakeFailed = Code(.handshakeFailed)
        /// The peer's certificate did not verify (unknown CA, expired, wrong name).
        public static let verificationFailed = Code(.verificationFailed)
        /// A bad record or alert after the handshake.
        public static let protocolFailure = Code(.protocolFailure)
        /// The socket failed under TLS (`ECONNRESET`, `EPIPE`, ...).
        public static let ioFailure = Code(.ioFailure)

        public var description: String { kind.rawValue }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

// MARK: - OpenSSL's error queue

extension TLSError {
    /// At most this many reasons go into one message; the rest of the queue is discarded.
    static let maxReasons = 4

    /// An error whose message is `what` followed by the reasons on this thread's OpenSSL
    /// error queue, which it empties.
    static func fromErrorQueue(_ code: Code, _ what: String) -> TLSError {
        let reasons = drainErrorQueue()
        guard !reasons.isEmpty else { return TLSError(code, what) }
        return TLSError(code, "\(what) (\(reasons.joined(separator: "; ")))")
    }

    /// Empties this thread's OpenSSL error queue: its reasons, oldest first, without repeats.
    static func drainErrorQueue() -> [String] {
        var reasons: [String] = []
        while true {
            let error = ERR_get_error()
            guard error != 0 else { return reasons }

            let reason = describe(error)
            if reasons.count < maxReasons && !reasons.contains(reason) { reasons.append(reason) }
        }
    }

    /// `"library: reason"`, or OpenSSL's own code string when it has no reason text.
    private static func describe(_ error: UInt) -> String {
        guard let reason = ERR_reason_error_string(error) else {
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(error, &text, text.count)
            return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }

        guard let library = ERR_lib_error_string(error) else { return String(cString: reason) }
        return "\(String(cString: library)): \(String(cString: reason))"
    }

    /// The failure of a system call made inside OpenSSL.
    static func system(_ what: String, errno code: Int32) -> TLSError {
        _ = drainErrorQueue()
        return TLSError(.ioFailure, "\(what): \(String(cString: strerror(code))) (errno \(code))")
    }
}
