import Foundation
import IMNet
import IMTestKit
import Testing

@testable import IMCLI

/// `serve all --tcp-tls / --wss / --tls-cert / --tls-key`: optional listeners, off by
/// default, whose files are checked before anything serves.
@Suite struct ServeTLSOptionsTests {
    @Test func tlsListenersAreOffByDefault() {
        let configuration = ServeConfiguration()

        #expect(configuration.tcpTLSAddress == nil && configuration.webSocketTLSAddress == nil)
        #expect(!configuration.servesTLS)
        #expect(!configuration.configFileText.contains("tls"))
    }

    @Test func tlsListenerWithoutCertificateIsAUsageError() {
        let result = imctl(["serve", "all", "--tcp-tls", "127.0.0.1:0"])

        #expect(result.status == 64)
        #expect(
            result.stderr.split(separator: "\n").first
                == "Error: option '--tls-cert' is required with '--tcp-tls'")
    }

    @Test func webSocketTLSListenerWithoutKeyIsAUsageError() {
        let result = imctl(["serve", "all", "--wss", "127.0.0.1:0", "--tls-cert", "cert.pem"])

        #expect(result.status == 64)
        #expect(
            result.stderr.split(separator: "\n").first
                == "Error: option '--tls-key' is required with '--wss'")
    }

    @Test func printedConfigurationListsTheTLSSettingsGiven() {
        let result = imctl([
            "serve", "all", "--print-config", "--wss", "127.0.0.1:9443", "--tls-cert", "c.pem",
            "--tls-key", "k.pem",
        ])

        #expect(result.status == 0)
        let lines = "\nwss = 127.0.0.1:9443\ntls-cert = c.pem\ntls-key = k.pem\n"
        #expect(result.stdout.contains(lines))
        #expect(!result.stdout.contains("tcp-tls"))
    }

    @Test func missingCertificateFileFailsTheStartNamingTheFile() throws {
        let missing = "/nonexistent/imctl-\(UUID().uuidString).pem"
        let result = try CommandRunner.imctl(
            [
                "serve", "all", "--tcp", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--http",
                "127.0.0.1:0", "--loops", "1", "--tcp-tls", "127.0.0.1:0", "--tls-cert", missing,
                "--tls-key", missing,
            ], timeout: 20)

        #expect(result.status == 1)
        #expect(result.stderr.contains("certificate chain file '\(missing)' not found"))
    }
}
