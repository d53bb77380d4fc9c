import Foundation
import IMNet
import IMTestKit
import Testing

@testable import IMCLI

/// `imctl client connect --ws wss://...` against a comet with a TLS WebSocket listener whose
/// certificate (localhost and 127.0.0.1, signed by the test CA) is IMTestKit's.
@Suite(.serialized)
struct ClientConnectSecureWebSocketTests {
    @Test func jsonModePushReachesTheClientOverTLS() async throws {
        let files = try await TLSTestFiles.make()
        defer { files.remove() }
        let server = try WebSocketComet(tls: try files.ecServerContext())
        let result = try await server.session(
            ["--tls-ca", files.caFile, "--token", #"{"mid":1005,"room":7}"#], scheme: "wss",
            bodies: [#"{"secure":true}"#])

        #expect(result.stdout == "{\"secure\":true}\n")
        #expect(result.stderr.hasPrefix("authenticated\nError: the server closed the connection"))
        #expect(result.status == 1)
    }

    @Test func binaryModePushReachesTheClientOverTLS() async throws {
        let files = try await TLSTestFiles.make()
        defer { files.remove() }
        let server = try WebSocketComet(tls: try files.ecServerContext())
        let result = try await server.session(
            ["--binary", "--tls-ca", files.caFile, "--token", #"{"mid":1006,"room":7}"#],
            scheme: "wss", bodies: ["plain", "text"])

        #expect(result.stdout == "plain\ntext\n")
        #expect(result.status == 1)
    }

    @Test func serverSignedByAnotherCAIsRefusedInOneLine() async throws {
        let files = try await TLSTestFiles.make()
        defer { files.remove() }
        let server = try WebSocketComet(tls: try files.ecServerContext())
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
        let files = try await TLSTestFiles.make()
        defer { files.remove() }
        let server = try WebSocketComet(tls: try files.ecServerContext())
        let client = BackgroundCommand([
            "client", "connect", "--ws", server.url(scheme: "wss"), "--token", "1008",
        ])
        let result = await client.result()
        await server.stop()

        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("Error: TLS handshake failed: certificate verify failed: "))
    }

    /// The system store is OpenSSL's default one, which `SSL_CERT_FILE` replaces: with the test
    /// CA there, the built `imctl` trusts the comet without `--tls-ca`.
    @Test func systemStoreNamedBySSLCertFileIsTrusted() async throws {
        let files = try await TLSTestFiles.make()
        defer { files.remove() }
        let server = try WebSocketComet(tls: try files.ecServerContext())
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
        #expect(server.comet.metrics.acceptedTotal == 0)
    }
}
