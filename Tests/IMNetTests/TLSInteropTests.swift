import IMNet
import IMTestKit
import Testing

extension TLSTests {
    /// The echo server against an independent client: `openssl s_client`.
    @Suite struct TLSInteropTests {
        @Test(arguments: [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")])
        func opensslClientHandshakesAndVerifies(_ versionFlag: String, _ expected: String)
            async throws
        {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let server = try TLSEchoServer(context: try files.rsaServerContext())
            defer { server.stop() }

            let arguments = Self.clientArguments(port: server.port, caFile: files.caFile)

            let result = try await onOwnThread { TLSTestProcess.run(arguments + [versionFlag]) }

            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains("Protocol version: \(expected)"), "\(result.output)")
            #expect(result.output.contains("Verification: OK"), "\(result.output)")
        }

        @Test func opensslClientOfferingOnlyTLS11IsRefused() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let server = try TLSEchoServer(context: try files.ecServerContext())
            defer { server.stop() }

            // Security level 0 lets the client offer TLS 1.1 at all; the server must still refuse.
            let arguments =
                Self.clientArguments(port: server.port, caFile: files.caFile)
                + ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]

            let result = try await onOwnThread { TLSTestProcess.run(arguments) }

            #expect(result.status != 0, "\(result.output)")
            #expect(!result.output.contains("Protocol version: TLSv1.1"), "\(result.output)")
            #expect(server.statistics.handshakesCompleted == 0)
            #expect(await NetTestSupport.waitUntil { server.statistics.errors.count == 1 })
            let error = try #require(server.statistics.errors.first)
            #expect(error.code == .handshakeFailed)
            #expect(error.message.contains("unsupported protocol"), "\(error.message)")
        }

        @Test func opensslClientRejectsTheServerAgainstAnotherCA() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let server = try TLSEchoServer(context: try files.ecServerContext())
            defer { server.stop() }

            let arguments = Self.clientArguments(port: server.port, caFile: files.otherCAFile)

            let result = try await onOwnThread { TLSTestProcess.run(arguments) }

            #expect(result.status != 0, "\(result.output)")
            #expect(result.output.contains("verify error"), "\(result.output)")
        }

        static func clientArguments(port: Int, caFile: String) -> [String] {
            [
                "s_client", "-connect", "127.0.0.1:\(port)", "-servername", "localhost",
                "-CAfile", caFile, "-verify_hostname", "localhost", "-verify_return_error",
                "-brief",
            ]
        }
    }
}
