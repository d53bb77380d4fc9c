import Foundation
import Glibc
import IMNet
import IMTestKit
import Testing

extension TLSTests {
    @Suite struct TLSContextTests {
        @Test func serverContextLoadsAnRSAKeyAndChain() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }

            let context = try files.rsaServerContext()

            #expect(context.isServer)
            #expect(
                context.configuration
                    == .server(
                        certificateChainFile: files.rsaChainFile, privateKeyFile: files.rsaKeyFile))
        }

        @Test func serverContextLoadsAnECP256KeyInTraditionalForm() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }

            let context = try files.ecServerContext()

            #expect(context.isServer)
            #expect(
                try String(contentsOfFile: files.ecKeyFile, encoding: .utf8).hasPrefix(
                    "-----BEGIN EC PRIVATE KEY-----"))
        }

        @Test func missingCertificateFileIsNamedInTheError() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let missing = files.directory.file("nope.pem")

            let error = try #require(throws: TLSError.self) {
                try TLSContext(certificateChainFile: missing, privateKeyFile: files.rsaKeyFile)
            }

            #expect(error.code == .fileNotFound)
            #expect(error.message == "certificate chain file '\(missing)' not found")
        }

        @Test func missingKeyFileIsNamedInTheError() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let missing = files.directory.file("missing.key")

            let error = try #require(throws: TLSError.self) {
                try TLSContext(certificateChainFile: files.rsaChainFile, privateKeyFile: missing)
            }

            #expect(error.code == .fileNotFound)
            #expect(error.message.contains("private key file '\(missing)'"))
        }

        @Test func directoryInsteadOfAFileIsUnreadable() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }

            let error = try #require(throws: TLSError.self) {
                try TLSContext(
                    certificateChainFile: files.directory.path, privateKeyFile: files.rsaKeyFile)
            }

            #expect(error.code == .unreadableFile)
            #expect(error.message.contains("is not a regular file"))
        }

        @Test func garbageCertificateFileGivesOpenSSLsReason() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let garbage = try files.directory.write("garbage.pem", "this is not a certificate\n")

            let error = try #require(throws: TLSError.self) {
                try TLSContext(certificateChainFile: garbage, privateKeyFile: files.rsaKeyFile)
            }

            #expect(error.code == .invalidCertificate)
            #expect(error.message.contains("'\(garbage)'"))
            #expect(error.message.contains("no start line"))
        }

        @Test func keyFileGivenAsCertificateIsRejected() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }

            let error = try #require(throws: TLSError.self) {
                try TLSContext(
                    certificateChainFile: files.rsaKeyFile, privateKeyFile: files.rsaKeyFile)
            }

            #expect(error.code == .invalidCertificate)
        }

        @Test func truncatedPrivateKeyIsRejected() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let key = try String(contentsOfFile: files.rsaKeyFile, encoding: .utf8)
            let truncated = try files.directory.write("truncated.key", String(key.prefix(200)))

            let error = try #require(throws: TLSError.self) {
                try TLSContext(certificateChainFile: files.rsaChainFile, privateKeyFile: truncated)
            }

            #expect(error.code == .invalidPrivateKey)
            #expect(error.message.contains("'\(truncated)'"))
            #expect(error.message.contains("("), "OpenSSL's reason is appended: \(error.message)")
        }

        @Test func encryptedPrivateKeyFailsInsteadOfPrompting() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let encrypted = files.directory.file("encrypted.key")
            let result = try await onOwnThread {
                TLSTestProcess.run(
                    [
                        "pkey", "-in", files.ecKeyFile, "-out", encrypted, "-aes256", "-passout",
                        "pass:x",
                    ])
            }
            try #require(result.status == 0, "\(result.output)")

            let error = try #require(throws: TLSError.self) {
                try TLSContext(certificateChainFile: files.ecChainFile, privateKeyFile: encrypted)
            }

            #expect(error.code == .invalidPrivateKey)
        }

        @Test func mismatchedKeyOfTheSameTypeIsRejected() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let otherKey = files.directory.file("other-rsa.key")
            let result = try await onOwnThread {
                TLSTestProcess.run(["genpkey", "-algorithm", "RSA", "-out", otherKey])
            }
            try #require(result.status == 0, "\(result.output)")

            let error = try #require(throws: TLSError.self) {
                try TLSContext(certificateChainFile: files.rsaChainFile, privateKeyFile: otherKey)
            }

            #expect(error.code == .keyMismatch)
            #expect(
                error.message.contains("does not match the certificate in '\(files.rsaChainFile)'"))
            #expect(error.message.contains("key values mismatch"))
        }

        @Test func keyOfAnotherTypeIsAMismatch() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }

            let error = try #require(throws: TLSError.self) {
                try TLSContext(
                    certificateChainFile: files.rsaChainFile, privateKeyFile: files.ecKeyFile)
            }

            #expect(error.code == .keyMismatch)
            #expect(error.message.hasSuffix("(EC key, RSA certificate)"), "\(error.message)")
        }

        @Test func clientContextLoadsACAFileOrTheSystemStore() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }

            let withFile = try files.clientContext()
            let withSystemStore = try TLSContext(configuration: .client())

            #expect(!withFile.isServer)
            #expect(!withSystemStore.isServer)
        }

        @Test func clientContextRejectsAMissingOrEmptyCAFile() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let empty = try files.directory.write("empty.pem", "")

            let missing = try #require(throws: TLSError.self) {
                try TLSContext(
                    configuration: .client(trustedCAFile: files.directory.file("none.pem")))
            }
            let invalid = try #require(throws: TLSError.self) {
                try TLSContext(configuration: .client(trustedCAFile: empty))
            }

            #expect(missing.code == .fileNotFound)
            #expect(invalid.code == .invalidTrustStore)
            #expect(invalid.message.contains("'\(empty)'"))
        }
    }
}
