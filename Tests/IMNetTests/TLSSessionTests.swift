import Glibc
import IMCore
import IMNet
import IMTestKit
import Testing

extension TLSTests {
    /// `TLSSession` on both ends of a socket pair, driven step by step from the test thread.
    @Suite struct TLSSessionTests {
        @Test func handshakeNegotiatesTLS13AndVerifiesTheServer() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let pair = try TLSSessionPair(
                serverContext: try files.rsaServerContext(),
                clientContext: try files.clientContext())
            defer { pair.close() }

            let results = pair.handshake()

            #expect(results.server == .done)
            #expect(results.client == .done)
            #expect(pair.server.isHandshakeComplete && pair.client.isHandshakeComplete)
            #expect(pair.client.protocolVersion == "TLSv1.3")
            #expect(pair.server.cipherSuite != nil)
            #expect(pair.server.handshake() == .done, "a finished handshake stays done")
        }

        @Test func clientRejectsAServerSignedByAnotherCA() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let pair = try TLSSessionPair(
                serverContext: try files.ecServerContext(),
                clientContext: try TLSContext(
                    configuration: .client(trustedCAFile: files.otherCAFile)))
            defer { pair.close() }

            let results = pair.handshake()

            guard case .failed(let error) = results.client else {
                Issue.record("client handshake: \(results.client)")
                return
            }
            #expect(error.code == .verificationFailed)
            #expect(error.message.contains("certificate verify failed"))
            #expect(pair.client.shutdown() == false, "no close_notify after a failed handshake")
        }

        @Test(arguments: ["example.com", "127.0.0.2"])
        func clientRejectsACertificateForAnotherName(_ name: String) async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let pair = try TLSSessionPair(
                serverContext: try files.ecServerContext(),
                clientContext: try files.clientContext(),
                serverName: name)
            defer { pair.close() }

            let results = pair.handshake()

            guard case .failed(let error) = results.client else {
                Issue.record("client handshake with \(name): \(results.client)")
                return
            }
            #expect(error.code == .verificationFailed)
            #expect(error.message.contains("mismatch"), "\(error.message)")
        }

        @Test func clientAcceptsTheIPAddressListedInTheCertificate() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let pair = try TLSSessionPair(
                serverContext: try files.ecServerContext(),
                clientContext: try files.clientContext(),
                serverName: "127.0.0.1")
            defer { pair.close() }

            let results = pair.handshake()

            #expect(results.client == .done)
        }

        @Test func garbageInsteadOfAClientHelloFailsTheHandshake() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let pair = try TLSSessionPair(
                serverContext: try files.rsaServerContext(),
                clientContext: try files.clientContext())
            defer { pair.close() }
            let garbage = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
            _ = garbage.withUnsafeBytes { write(pair.client.fd, $0.baseAddress, $0.count) }

            let result = pair.server.handshake()

            guard case .failed(let error) = result else {
                Issue.record("server handshake: \(result)")
                return
            }
            #expect(error.code == .handshakeFailed)
            #expect(error.message.hasPrefix("TLS handshake failed ("), "\(error.message)")
            #expect(pair.server.handshake() != .done, "a failed session stays failed")
        }

        @Test func writeTakesAtMostOneRecordPerCall() async throws {
            let pair = try await Self.establishedPair()
            defer { pair.close() }
            let payload = [UInt8](repeating: 7, count: 100_000)

            let result = payload.withUnsafeBytes { pair.server.write($0) }

            #expect(result == .wrote(16_384))
        }

        @Test func decryptedBytesLeftInsideTheSessionAreReportedAsBuffered() async throws {
            let pair = try await Self.establishedPair()
            defer { pair.close() }
            let payload = (0..<16_384).map { UInt8(truncatingIfNeeded: $0) }
            #expect(payload.withUnsafeBytes { pair.client.write($0) } == .wrote(16_384))

            var received: [UInt8] = []
            var small = [UInt8](repeating: 0, count: 1_000)
            repeat {
                guard
                    case .bytes(let count) = small.withUnsafeMutableBytes({
                        pair.server.read(into: $0)
                    }
                    )
                else { break }
                received += small[..<count]
            } while pair.server.hasBufferedInput

            let matches = received == payload
            #expect(matches, "the whole record came out of the session, 1,000 bytes at a time")
            #expect(small.withUnsafeMutableBytes { pair.server.read(into: $0) } == .wantRead)
        }

        @Test func shutdownReadsAsClosedOnThePeer() async throws {
            let pair = try await Self.establishedPair()
            defer { pair.close() }
            var buffer = [UInt8](repeating: 0, count: 64)

            #expect(pair.client.shutdown())

            #expect(buffer.withUnsafeMutableBytes { pair.server.read(into: $0) } == .closed)
        }

        @Test func peerDroppingTheSocketWithoutCloseNotifyReadsAsClosed() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let pair = try TLSSessionPair(
                serverContext: try files.rsaServerContext(),
                clientContext: try files.clientContext())
            defer { close(pair.server.fd) }
            #expect(pair.handshake().server == .done)
            var buffer = [UInt8](repeating: 0, count: 64)
            // Reads the session tickets: a socket closed with unread bytes resets the connection.
            #expect(buffer.withUnsafeMutableBytes { pair.client.read(into: $0) } == .wantRead)

            close(pair.client.fd)

            #expect(buffer.withUnsafeMutableBytes { pair.server.read(into: $0) } == .closed)
        }

        @Test func outboundQueueGathersSmallChunksIntoOneRecord() async throws {
            let pair = try await Self.establishedPair()
            defer { pair.close() }
            var queue = OutboundQueue()
            var expected: [UInt8] = []
            for index in 0..<160 {
                let chunk = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 100)
                queue.append(ByteChunk(chunk))
                expected += chunk
            }

            #expect(queue.write(to: pair.server) == .flushed)

            var buffer = [UInt8](repeating: 0, count: 65_536)
            let first = buffer.withUnsafeMutableBytes { pair.client.read(into: $0) }
            #expect(first == .bytes(16_000), "160 chunks arrive as one record")
            let matches = Array(buffer[..<16_000]) == expected
            #expect(matches)
            #expect(queue.isEmpty)
        }

        @Test func outboundQueueResumesAfterAFullSocketWhileChunksKeepComing() async throws {
            let pair = try await Self.establishedPair()
            defer { pair.close() }
            var queue = OutboundQueue()
            var generator = SystemRandomNumberGenerator()
            var sent: [UInt8] = []
            var received: [UInt8] = []
            var blockedWrites = 0
            var buffer = [UInt8](repeating: 0, count: 65_536)

            for round in 0..<400 {
                if round < 200 {
                    // Tiny to several records: both the gathered and the direct path run.
                    let size = Int.random(
                        in: 1...(round % 3 == 0 ? 70_000 : 300), using: &generator)
                    let chunk = (0..<size).map { UInt8(truncatingIfNeeded: $0 &+ round) }
                    queue.append(ByteChunk(chunk))
                    sent += chunk
                }
                if queue.write(to: pair.server) == .wantWrite { blockedWrites += 1 }
                if round % 50 == 49 || round >= 200 {
                    received += Self.readAvailable(pair.client, into: &buffer)
                }
            }
            received += Self.readAvailable(pair.client, into: &buffer)

            #expect(blockedWrites > 0, "the socket pair filled up at least once")
            #expect(queue.isEmpty)
            #expect(received.count == sent.count)
            let matches = received == sent
            #expect(matches)
        }

        // MARK: - Helpers

        static func establishedPair() async throws -> TLSSessionPair {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let pair = try TLSSessionPair(
                serverContext: try files.ecServerContext(), clientContext: try files.clientContext()
            )
            let results = pair.handshake()
            guard results.server == .done, results.client == .done else {
                pair.close()
                throw TLSTestSetupError("handshake: \(results)")
            }
            return pair
        }

        /// Everything `session` can read right now.
        static func readAvailable(_ session: TLSSession, into buffer: inout [UInt8]) -> [UInt8] {
            var collected: [UInt8] = []
            while case .bytes(let count) = buffer.withUnsafeMutableBytes({ session.read(into: $0) })
            {
                collected += buffer[..<count]
            }
            return collected
        }
    }
}
