import COpenSSL
import Glibc
import IMCore

/// A configured OpenSSL `SSL_CTX`: certificates, keys, trust anchors and protocol policy, shared
/// by every `TLSSession` of a listener (server) or of a client.
///
/// Built once at start-up; loading fails with a `TLSError` naming the file and OpenSSL's reason
/// (missing file, bad PEM, key not matching the certificate, ...).
///
/// `@unchecked Sendable`: the `SSL_CTX` is configured completely in `init` and never changed
/// afterwards. OpenSSL documents a configured context as safe to use from many threads at once
/// for creating sessions: `SSL_new` only reads it, and its reference count and session data are
/// updated under OpenSSL's own locks.
public final class TLSContext: @unchecked Sendable {
    /// What the context was built from.
    public let configuration: TLSConfiguration

    /// The `SSL_CTX`; owned (freed in `deinit`), and immutable after `init`.
    let handle: OpaquePointer

    private static let logger = Logger(label: "imnet.tls")

    /// Builds a context. Reads the files now: a server's certificate chain and key (and checks
    /// that they match), a client's CA file or the system store.
    ///
    /// - Throws: `TLSError` with `.fileNotFound`, `.unreadableFile`, `.invalidCertificate`,
    ///   `.invalidPrivateKey`, `.keyMismatch`, `.invalidTrustStore` or `.setupFailed`.
    public init(configuration: TLSConfiguration) throws {
        let method = configuration.isServer ? TLS_server_method() : TLS_client_method()
        guard let handle = SSL_CTX_new(method) else {
            throw TLSError.fromErrorQueue(.setupFailed, "cannot create a TLS context")
        }
        self.handle = handle
        self.configuration = configuration

        // OpenSSL writes to the socket with write(2), not send(MSG_NOSIGNAL): a peer that went
        // away must give EPIPE rather than kill the process (clients may have no event loop).
        System.ignoreBrokenPipeSignal()
        try applyPolicy()
        switch configuration.role {
        case .server(let chainFile, let keyFile):
            try loadServerIdentity(certificateChainFile: chainFile, privateKeyFile: keyFile)
            logLoaded(certificateChainFile: chainFile, privateKeyFile: keyFile)
        case .client(let caFile):
            try loadTrustAnchors(caFile: caFile)
        }
    }

    /// A server context from PEM files; see `TLSConfiguration.Role.server`.
    public convenience init(certificateChainFile: String, privateKeyFile: String) throws {
        try self.init(
            configuration: .server(
                certificateChainFile: certificateChainFile, privateKeyFile: privateKeyFile))
    }

    deinit {
        SSL_CTX_free(handle)
    }

    /// Whether sessions made from this context accept connections (rather than make them).
    public var isServer: Bool { configuration.isServer }
}

// MARK: - Policy

extension TLSContext {
    /// Buffer modes for non-blocking sockets: a write may return after one record, and a retry
    /// after "want write" may pass the same bytes from another address (an `OutboundQueue`
    /// re-gathers them). Buffers are freed whenever a connection has nothing in flight, which
    /// is what keeps an idle TLS connection small (see docs/tls.md).
    static let modes =
        Int(SSL_MODE_ENABLE_PARTIAL_WRITE) | Int(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER)
        | Int(SSL_MODE_RELEASE_BUFFERS)

    private func applyPolicy() throws {
        guard copenssl_ctx_set_min_proto_version(handle, TLS1_2_VERSION) == 1 else {
            throw TLSError.fromErrorQueue(.setupFailed, "cannot require TLS 1.2")
        }

        // An end of stream without close_notify reads as a clean close: browsers and mobile
        // clients often just drop the socket, and every imctl protocol frames its own messages,
        // so a truncation cannot pass for a complete message.
        let options =
            copenssl_op_no_renegotiation() | copenssl_op_ignore_unexpected_eof()
            | copenssl_op_cipher_server_preference() | copenssl_op_no_compression()
        _ = SSL_CTX_set_options(handle, options)
        _ = copenssl_ctx_set_mode(handle, Self.modes)
        copenssl_ctx_refuse_passphrases(handle)
    }
}

// MARK: - Server identity

extension TLSContext {
    private func loadServerIdentity(certificateChainFile: String, privateKeyFile: String) throws {
        // No server-side session cache: it would keep a session per handshake in memory.
        // Resumption still works through stateless session tickets.
        _ = copenssl_ctx_set_session_cache_mode(handle, Int(SSL_SESS_CACHE_OFF))

        try Self.checkReadable(certificateChainFile, role: "certificate chain file")
        try Self.checkReadable(privateKeyFile, role: "private key file")
        try loadCertificateChain(certificateChainFile)
        try loadPrivateKey(privateKeyFile, certificateChainFile: certificateChainFile)
    }

    private func loadCertificateChain(_ path: String) throws {
        guard SSL_CTX_use_certificate_chain_file(handle, path) == 1 else {
            throw TLSError.fromErrorQueue(
                .invalidCertificate,
                "certificate chain file '\(path)' holds no usable PEM certificate")
        }
    }

    private func loadPrivateKey(_ path: String, certificateChainFile: String) throws {
        guard let key = copenssl_read_private_key_file(path) else {
            throw TLSError.fromErrorQueue(
                .invalidPrivateKey,
                "private key file '\(path)' holds no usable unencrypted PEM private key")
        }
        defer { EVP_PKEY_free(key) }

        let mismatch =
            "private key file '\(path)' does not match the certificate in '\(certificateChainFile)'"
        if let keyType = keyTypeName(key), let certificateKeyType = certificateKeyTypeName(),
            keyType != certificateKeyType
        {
            throw TLSError(
                .keyMismatch, "\(mismatch) (\(keyType) key, \(certificateKeyType) certificate)")
        }
        guard SSL_CTX_use_PrivateKey(handle, key) == 1, SSL_CTX_check_private_key(handle) == 1
        else {
            throw TLSError.fromErrorQueue(.keyMismatch, mismatch)
        }
    }

    /// `"RSA"`, `"EC"`, ...: OpenSSL only says "no certificate assigned" when the types differ.
    private func keyTypeName(_ key: OpaquePointer) -> String? {
        EVP_PKEY_get0_type_name(key).map { String(cString: $0) }
    }

    private func certificateKeyTypeName() -> String? {
        guard let certificate = SSL_CTX_get0_certificate(handle),
            let publicKey = X509_get0_pubkey(certificate)
        else { return nil }
        return keyTypeName(publicKey)
    }
}

extension TLSContext {
    private func logLoaded(certificateChainFile: String, privateKeyFile: String) {
        let files = ["tls.cert": certificateChainFile, "tls.key": privateKeyFile]
        Self.logger.info("TLS certificate loaded", files)

        // Loading does not check dates; an expired certificate fails every client later.
        if let certificate = SSL_CTX_get0_certificate(handle),
            X509_cmp_current_time(X509_get0_notAfter(certificate)) < 0
        {
            Self.logger.warning("TLS certificate has expired", files)
        }
    }
}

// MARK: - Client trust

extension TLSContext {
    private func loadTrustAnchors(caFile: String?) throws {
        SSL_CTX_set_verify(handle, SSL_VERIFY_PEER, nil)

        guard let caFile else {
            guard SSL_CTX_set_default_verify_paths(handle) == 1 else {
                throw TLSError.fromErrorQueue(.invalidTrustStore, "cannot load the system CA store")
            }
            return
        }

        try Self.checkReadable(caFile, role: "CA file")
        guard SSL_CTX_load_verify_locations(handle, caFile, nil) == 1 else {
            throw TLSError.fromErrorQueue(
                .invalidTrustStore, "CA file '\(caFile)' holds no usable PEM certificate")
        }
    }
}

// MARK: - Files

extension TLSContext {
    /// Fails early, with plain words, for the common mistakes that OpenSSL would report as a
    /// "system library" error: an empty path, a missing file, a directory, no permission.
    static func checkReadable(_ path: String, role: String) throws {
        guard !path.isEmpty else { throw TLSError(.fileNotFound, "no \(role) given") }

        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR {
                throw TLSError(.fileNotFound, "\(role) '\(path)' not found")
            }
            throw TLSError(.unreadableFile, "cannot read \(role) '\(path)': \(describeErrno(code))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw TLSError(.unreadableFile, "\(role) '\(path)' is not a regular file")
        }
        guard access(path, R_OK) == 0 else {
            throw TLSError(
                .unreadableFile, "cannot read \(role) '\(path)': \(describeErrno(errno))")
        }
    }

    private static func describeErrno(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
