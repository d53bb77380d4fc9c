/// What a `TLSContext` is built from: the files of a server, or the trust anchors of a client.
///
/// The protocol policy is fixed rather than configurable, because every listener of imctl wants
/// the same one: TLS 1.2 minimum (1.3 preferred), OpenSSL's default cipher list at its default
/// security level, no renegotiation, no compression, and I/O buffers released while a
/// connection is idle.
public struct TLSConfiguration: Sendable, Equatable {
    /// Which end of the connection the context serves.
    public enum Role: Sendable, Equatable {
        /// A server presenting the certificate chain in `certificateChainFile` (PEM: the leaf
        /// first, then any intermediates) with the key in `privateKeyFile` (PEM, unencrypted;
        /// RSA or EC, PKCS#8 or the traditional form).
        case server(certificateChainFile: String, privateKeyFile: String)
        /// A client that verifies the server's certificate against the CA certificates in
        /// `trustedCAFile` (PEM, one or more), or against the system store when it is nil.
        case client(trustedCAFile: String?)
    }

    /// Which end, and its files.
    public var role: Role

    public init(role: Role) {
        self.role = role
    }

    /// A server configuration (`--tls-cert`, `--tls-key`).
    public static func server(certificateChainFile: String, privateKeyFile: String) -> Self {
        Self(
            role: .server(
                certificateChainFile: certificateChainFile, privateKeyFile: privateKeyFile))
    }

    /// A client configuration (`--tls-ca`; nil: the system's trusted CAs).
    public static func client(trustedCAFile: String? = nil) -> Self {
        Self(role: .client(trustedCAFile: trustedCAFile))
    }

    /// Whether this is a server configuration.
    public var isServer: Bool {
        if case .server = role { return true }
        return false
    }
}
