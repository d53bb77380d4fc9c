import Glibc
import IMCore
import IMNet
import IMTestKit
import Testing

extension TLSTests {
    /// A TLS echo server on `EventLoopGroup(loopCount: 2)` + `TCPServer`, driven by blocking
    /// clients.
    @Suite struct TLSEchoServerTests {
        @Test(arguments: ["rsa", "ec"])
        func echoesOneByteAfterTheHandshake(_ keyType: String) async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let context =
                keyType == "rsa" ? try files.rsaServerContext() : try files.ecServerContext()
            let server = try TLSEchoServer(context: context)
            defer { server.stop() }
            let client = try TLSBlockingClient(
                port: server.port, context: try files.clientContext())

            let echoed = try await onOwnThread {
                try client.handshake()
                try client.writeAll([42])
                return try client.readExactly(1)
            }

            #expect(echoed == [42])
            #expect(client.session.protocolVersion == "TLSv1.3")
            #expect(server.statistics.handshakesCompleted == 1)
        }

        @Test func echoesOneMebibyteThroughFullSocketsAndSmallReads() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            // 1,000-byte reads leave most of each 16 KiB record inside the session between reads.
            let server = try TLSEchoServer(
                context: try files.ecServerContext(), readSize: 1_000, sendBufferSize: 16_384)
            defer { server.stop() }
            let client = try TLSBlockingClient(
                port: server.port, context: try files.clientContext(), receiveBufferSize: 8_192)
            let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }

            // The client sends everything before reading: the server's writes hit a full socket.
            let echoed = try await onOwnThread {
                try client.handshake()
                try client.writeAll(payload)
                return try client.readExactly(payload.count)
            }

            let matches = echoed == payload
            #expect(matches)
            #expect(server.statistics.writesThatBlocked > 0, "writes were partial and resumed")
            #expect(server.statistics.readsDeferred > 0, "reads came back for buffered input")
            #expect(server.statistics.errors.isEmpty)
        }

        @Test func echoesManySmallWritesQueuedAsSmallChunks() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let server = try TLSEchoServer(context: try files.rsaServerContext(), echoChunkSize: 7)
            defer { server.stop() }
            let client = try TLSBlockingClient(
                port: server.port, context: try files.clientContext())
            let messages = (0..<2_000).map { Array("message \($0);".utf8) }

            let echoed = try await onOwnThread {
                try client.handshake()
                for message in messages { try client.writeAll(message) }
                return try client.readExactly(messages.joined().count)
            }

            let matches = echoed == Array(messages.joined())
            #expect(matches)
            #expect(server.statistics.errors.isEmpty)
        }

        @Test func clientTrustingAnotherCAFailsTheHandshake() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let server = try TLSEchoServer(context: try files.rsaServerContext())
            defer { server.stop() }
            let wrongTrust = try TLSContext(
                configuration: .client(trustedCAFile: files.otherCAFile))
            let client = try TLSBlockingClient(port: server.port, context: wrongTrust)

            let outcome = try await onOwnThread { Result { try client.handshake() } }

            let error = try #require(throws: TLSError.self) { try outcome.get() }
            #expect(error.code == .verificationFailed)
            #expect(error.message.contains("certificate verify failed"), "\(error.message)")
            #expect(await NetTestSupport.waitUntil { server.statistics.errors.count == 1 })
            #expect(server.statistics.errors.first?.code == .handshakeFailed)
            #expect(await NetTestSupport.waitUntil { server.statistics.openConnections == 0 })
        }

        @Test func garbageInsteadOfAClientHelloFailsOnlyThatConnection() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let server = try TLSEchoServer(context: try files.ecServerContext())
            defer { server.stop() }
            let goodClient = try TLSBlockingClient(
                port: server.port, context: try files.clientContext())
            try await onOwnThread { try goodClient.handshake() }
            let garbage = try TLSTestSockets.connect(port: server.port)
            defer { close(garbage) }

            let reply = try await onOwnThread {
                try NetTestSupport.writeAll(garbage, Array("hello, this is not TLS\r\n".utf8))
                return Self.readUntilClosed(garbage)
            }

            #expect(reply.closed, "the server closed the garbage connection")
            #expect(reply.bytes.count < 64, "at most an alert came back")
            #expect(await NetTestSupport.waitUntil { server.statistics.errors.count == 1 })
            #expect(server.statistics.errors.first?.code == .handshakeFailed)
            let echoed = try await onOwnThread {
                try goodClient.writeAll(Array("still here".utf8))
                return try goodClient.readExactly(10)
            }
            #expect(echoed == Array("still here".utf8))
            #expect(server.statistics.openConnections == 1)
        }

        @Test func twoHundredConcurrentConnectionsHandshake() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let server = try TLSEchoServer(context: try files.ecServerContext())
            defer { server.stop() }
            let clients = try TLSConcurrentClients(
                count: 200, port: server.port, context: try files.clientContext())
            defer { clients.close() }

            let finished = try await onOwnThread { try clients.handshakeAll(timeout: .seconds(30)) }

            #expect(finished == 200)
            #expect(
                await NetTestSupport.waitUntil(timeout: .seconds(10)) {
                    server.statistics.handshakesCompleted == 200
                })
            #expect(server.statistics.openConnections == 200, "all 200 are open at once")
            #expect(server.listener.statistics.accepted == 200)
            clients.close()
            #expect(await NetTestSupport.waitUntil { server.fileLimit.reserved == 0 })
        }

        /// Reads until end of stream or error (bounded by the socket's 2 s timeout).
        static func readUntilClosed(_ fd: Int32) -> (bytes: [UInt8], closed: Bool) {
            var collected: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4_096)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    collected += buffer[..<count]
                    continue
                }
                let closed = count == 0 || errno == ECONNRESET
                return (collected, closed)
            }
        }
    }
}

/// Many non-blocking client sessions whose handshakes run side by side, driven with `poll`.
///
/// `@unchecked Sendable`: handed to one thread at a time (`onOwnThread` returns before the test
/// touches it again).
final class TLSConcurrentClients: @unchecked Sendable {
    private var fds: [Int32] = []
    private var sessions: [TLSSession] = []

    init(count: Int, port: Int, context: TLSContext) throws {
        for _ in 0..<count {
            let fd = try TLSTestSockets.connect(port: port)
            fds.append(fd)
            try System.setNonBlocking(fd)
            sessions.append(try TLSSession(context: context, fd: fd, serverName: "localhost"))
        }
    }

    deinit {
        close()
    }

    /// Runs every handshake until it finishes, fails or `timeout` passes: how many finished.
    func handshakeAll(timeout: Duration) throws -> Int {
        let deadline = ContinuousClock.now + timeout
        var waiting = Array(sessions.indices)
        var finished = 0
        while !waiting.isEmpty && ContinuousClock.now < deadline {
            var polls: [pollfd] = []
            var stillWaiting: [Int] = []
            for index in waiting {
                switch sessions[index].handshake() {
                case .done: finished += 1
                case .failed(let error): throw error
                case .wantRead:
                    stillWaiting.append(index)
                    polls.append(pollfd(fd: fds[index], events: Int16(POLLIN), revents: 0))
                case .wantWrite:
                    stillWaiting.append(index)
                    polls.append(pollfd(fd: fds[index], events: Int16(POLLOUT), revents: 0))
                }
            }
            waiting = stillWaiting
            if !polls.isEmpty { _ = poll(&polls, nfds_t(polls.count), 100) }
        }
        return finished
    }

    func close() {
        sessions.removeAll()
        fds.forEach { Glibc.close($0) }
        fds.removeAll()
    }
}
