import Foundation
import IMNet
import IMTestKit
import Testing

@testable import IMCLI

/// `imctl client connect --ws wss://...` against a comet with a TLS WebSocket listener whose
/// certificate (localhost and 127.0.0.1, signed by a test CA) is made with /usr/bin/openssl.
@Suite(.serialized)
struct ClientConnectSecureWebSocketTests {
    @Test func jsonModePushReachesTheClientOverTLS() async throws {
        let files = try await TestCertificates.shared()
        let server = try WebSocketComet(tls: try files.serverContext())
        let result = try await server.session(
            ["--tls-ca", files.caFile, "--token", #"{"mid":1005,"room":7}"#], scheme: "wss",
            bodies: [#"{"secure":true}"#])

        #expect(result.stdout == "{\"secure\":true}\n")
        #expect(result.stderr.hasPrefix("authenticated\nError: the server closed the connection"))
        #expect(result.status == 1)
    }

    @Test func binaryModePushReachesTheClientOverTLS() async throws {
        let files = try await TestCertificates.shared()
        let server = try WebSocketComet(tls: try files.serverContext())
        let result = try await server.session(
            ["--binary", "--tls-ca", files.caFile, "--token", #"{"mid":1006,"room":7}"#],
            scheme: "wss", bodies: ["plain", "text"])

        #expect(result.stdout == "plain\ntext\n")
        #expect(result.status == 1)
    }

    @Test func serverSignedByAnotherCAIsRefusedInOneLine() async throws {
        let files = try await TestCertificates.shared()
        let server = try WebSocketComet(tls: try files.serverContext())
        let client = BackgroundCommand([
            "client", "connect", "--ws", server.url(scheme: "wss"), "--tls-ca", files.otherCAFile,
            "--token", "1007",
        ])
        let result = await client.result()
        let serverSawTheFailure = await waitUntil {
            server.comet.metrics.tlsHandshakeFailures.current == 1
        }
        await server.stop()

        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("Error: TLS handshake failed: certificate verify failed"))
        #expect(result.stderr.count(where: { $0 == "\n" }) == 1)
        #expect(serverSawTheFailure)
    }

    /// Without `--tls-ca` the system's trust store decides, and it does not hold the test CA.
    @Test func withoutTrustedCAFileTheSystemStoreIsUsed() async throws {
        let files = try await TestCertificates.shared()
        let server = try WebSocketComet(tls: try files.serverContext())
        let client = BackgroundCommand([
            "client", "connect", "--ws", server.url(scheme: "wss"), "--token", "1008",
        ])
        let result = await client.result()
        await server.stop()

        #expect(result.status == 1)
        #expect(
            result.stderr.hasPrefix(
                "Error: TLS handshake failed: certificate verify failed: "
                    + "unable to get local issuer certificate"))
    }

    /// The system store is OpenSSL's default one, which `SSL_CERT_FILE` replaces: with the test
    /// CA there, the built `imctl` trusts the comet without `--tls-ca`.
    @Test func systemStoreNamedBySSLCertFileIsTrusted() async throws {
        let files = try await TestCertificates.shared()
        let server = try WebSocketComet(tls: try files.serverContext())
        let arguments = [
            "client", "connect", "--ws", server.url(scheme: "wss"), "--token", "1009",
        ]
        let run = Task {
            try await onOwnThread {
                try CommandRunner.imctl(arguments, environment: ["SSL_CERT_FILE": files.caFile])
            }
        }

        let joined = await waitUntil { server.comet.connectionCount == 1 }
        await server.stop()
        let result = try await run.value

        #expect(joined)
        #expect(result.stderr.hasPrefix("authenticated\nError: the server closed the connection"))
        #expect(result.status == 1)
    }

    @Test func missingTrustedCAFileFailsBeforeConnecting() async throws {
        let server = try WebSocketComet()
        let missing = "/nonexistent/imctl-\(UUID().uuidString).pem"
        let result = imctl([
            "client", "connect", "--ws", server.url(scheme: "wss"), "--tls-ca", missing,
            "--token", "1010",
        ])
        await server.stop()

        #expect(result.status == 1)
        #expect(result.stderr == "Error: CA file '\(missing)' not found\n")
        #expect(server.comet.metrics.connectionsAccepted.current == 0)
    }
}

/// Runs blocking work (child processes, a blocking client) on a thread of its own, so that
/// no cooperative thread waits for it.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// A CA, a server certificate for localhost / 127.0.0.1 it signed, and an unrelated CA, all
/// EC P-256, made once per test process in a temporary directory.
private struct TestCertificates: Sendable {
    let caFile: String
    let otherCAFile: String
    let certificateFile: String
    let keyFile: String

    func serverContext() throws -> TLSContext {
        try TLSContext(certificateChainFile: certificateFile, privateKeyFile: keyFile)
    }

    /// Made on first use, on a thread of its own (a few openssl runs).
    static func shared() async throws -> TestCertificates {
        try await onOwnThread { try made.get() }
    }

    private static let made = Result { try make() }

    private static func make() throws -> TestCertificates {
        var template = Array("\(NSTemporaryDirectory())/imctl-wss-client-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SetupError(description: "mkdtemp") }
        let directory = String(cString: made)
        let curve =
            ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-days", "2", "-nodes"]

        for name in ["ca", "other-ca"] {
            try openssl(
                ["req", "-x509"] + curve
                    + ["-keyout", "\(name).key", "-out", "\(name).pem", "-subj", "/CN=\(name)"],
                in: directory)
        }
        try openssl(
            ["req", "-x509", "-CA", "ca.pem", "-CAkey", "ca.key"] + curve
                + ["-keyout", "server.key", "-out", "server.pem", "-subj", "/CN=localhost"]
                + ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
                + ["-addext", "basicConstraints=critical,CA:FALSE"], in: directory)
        return TestCertificates(
            caFile: "\(directory)/ca.pem", otherCAFile: "\(directory)/other-ca.pem",
            certificateFile: "\(directory)/server.pem", keyFile: "\(directory)/server.key")
    }

    private static func openssl(_ arguments: [String], in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw SetupError(description: "openssl \(arguments.joined(separator: " ")) failed")
        }
    }

    struct SetupError: Error, CustomStringConvertible {
        let description: String
    }
}
