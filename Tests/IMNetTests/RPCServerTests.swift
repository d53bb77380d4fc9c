import Glibc
import IMCore
import IMNet
import Testing

/// The server's side of the wire, seen from a raw socket.
@Suite struct RPCServerTests {
    @Test func callAndPingAreAnsweredWithTheReplyFlagAndTheirSeq() async throws {
        try await withRawClient(handler: RPCTestSupport.echoHandler) { _, fd in
            let call = RPCTestSupport.frame(ver: 0, op: 7, seq: 41, body: [1, 2])
            try NetTestSupport.writeAll(fd, call)
            let reply = try await RPCTestSupport.readFrame(fd)
            #expect(reply == Frame(ver: 1, op: 7, seq: 41, body: [1, 2]))

            try NetTestSupport.writeAll(fd, RPCTestSupport.frame(ver: 0, op: 0, seq: -3))
            #expect(try await RPCTestSupport.readFrame(fd) == Frame(ver: 1, op: 0, seq: -3))
        }
    }

    @Test func handlerErrorIsAnErrorReplyWithTheMessage() async throws {
        try await withRawClient(handler: RPCTestSupport.echoHandler) { _, fd in
            try NetTestSupport.writeAll(fd, RPCTestSupport.frame(ver: 0, op: 2, seq: 5, body: [0]))
            let reply = try await RPCTestSupport.readFrame(fd)
            #expect(reply == Frame(ver: 2, op: 2, seq: 5, body: Array("refused: 1 bytes".utf8)))
        }
    }

    @Test func repliesGoOutAsCallsFinishMatchedBySeq() async throws {
        let gate = RPCGate()
        let handler = RPCClosureHandler { method, payload in
            if method == 9 { await gate.wait() }
            return payload
        }
        defer { gate.open() }

        try await withRawClient(handler: handler) { _, fd in
            let calls =
                RPCTestSupport.frame(ver: 0, op: 9, seq: 1, body: [1])
                + RPCTestSupport.frame(ver: 0, op: 4, seq: 2, body: [2])
            try NetTestSupport.writeAll(fd, calls)

            let fast = try await RPCTestSupport.readFrame(fd)
            #expect(fast == Frame(ver: 1, op: 4, seq: 2, body: [2]))
            gate.open()
            let slow = try await RPCTestSupport.readFrame(fd)
            #expect(slow == Frame(ver: 1, op: 9, seq: 1, body: [1]))
        }
    }

    @Test func connectionStopsReadingAtTheInFlightCap() async throws {
        let gate = RPCGate()
        let handler = RPCClosureHandler { _, payload in
            await gate.wait()
            return payload
        }
        defer { gate.open() }
        let configuration = RPCServer.Configuration(maxInFlightPerConnection: 2)

        try await withRawClient(configuration, handler: handler) { server, fd in
            let calls = (1...5).flatMap {
                RPCTestSupport.frame(ver: 0, op: 1, seq: Int32($0), body: [UInt8($0)])
            }
            try NetTestSupport.writeAll(fd, calls)

            #expect(await RPCTestSupport.eventually { gate.arrivals == 2 })
            try await Task.sleep(for: .milliseconds(200))
            #expect(gate.arrivals == 2)
            #expect(server.metrics.calls.current == 2)

            gate.open()
            var seqs: Set<Int32> = []
            for _ in 1...5 { seqs.insert(try await RPCTestSupport.readFrame(fd).seq) }
            #expect(seqs == [1, 2, 3, 4, 5])
        }
    }

    @Test func oversizeFrameClosesTheConnection() async throws {
        let configuration = RPCServer.Configuration(maxPayloadSize: 1024)
        try await withRawClient(configuration, handler: RPCTestSupport.echoHandler) { server, fd in
            // Only the header: the server must refuse before the body arrives.
            let oversize = RPCTestSupport.frame(
                ver: 0, op: 1, seq: 1, body: [UInt8](repeating: 0, count: 1025))
            let header = Array(oversize.prefix(Frame.headerSize))
            try NetTestSupport.writeAll(fd, header)

            #expect(await RPCTestSupport.peerClosed(fd))
            #expect(server.metrics.protocolErrors.current == 1)
            let connections = server.metrics.openConnections
            #expect(await RPCTestSupport.eventually { connections.current == 0 })
        }
    }

    @Test func frameAtTheLimitIsServed() async throws {
        let configuration = RPCServer.Configuration(maxPayloadSize: 1024)
        try await withRawClient(configuration, handler: RPCTestSupport.echoHandler) { _, fd in
            let body = [UInt8](repeating: 6, count: 1024)
            let call = RPCTestSupport.frame(ver: 0, op: 1, seq: 1, body: body)
            try NetTestSupport.writeAll(fd, call)
            #expect(try await RPCTestSupport.readFrame(fd).body == body)
        }
    }

    @Test(arguments: [
        RPCTestSupport.frame(ver: 1, op: 1, seq: 1),  // a reply sent to the server
        RPCTestSupport.frame(ver: 2, op: 1, seq: 1),
        [0, 0, 0, 16, 0, 12, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1],  // header length 12
        [0, 0, 0, 8, 0, 16, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1],  // packLen below the header
        [0xFF, 0xFF, 0xFF, 0xFF, 0, 16, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1],  // negative packLen
    ])
    func malformedFrameClosesTheConnection(_ bytes: [UInt8]) async throws {
        try await withRawClient(handler: RPCTestSupport.echoHandler) { server, fd in
            try NetTestSupport.writeAll(fd, bytes)
            #expect(await RPCTestSupport.peerClosed(fd))
            #expect(server.metrics.protocolErrors.current == 1)
            #expect(server.metrics.calls.current == 0)
        }
    }

    @Test func stoppingTheServerClosesItsConnections() async throws {
        try await withRawClient(handler: RPCTestSupport.echoHandler) { server, fd in
            try NetTestSupport.writeAll(fd, RPCTestSupport.frame(ver: 0, op: 0, seq: 1))
            _ = try await RPCTestSupport.readFrame(fd)

            await server.stop()
            #expect(await RPCTestSupport.peerClosed(fd))
            #expect(server.metrics.openConnections.current == 0)
        }
    }

    @Test func serverCanBeStartedOnlyOnce() async throws {
        try await RPCTestSupport.withGroup { group in
            let server = RPCServer(group: group, handler: RPCTestSupport.echoHandler)
            _ = try server.start(host: "127.0.0.1", port: 0)
            #expect(throws: RPCServerError.self) {
                _ = try server.start(host: "127.0.0.1", port: 0)
            }
            await server.stop()
        }
    }

    @Test func clientDropsAConnectionWhoseServerAnswersNothing() async throws {
        let limit = FileLimit(limit: 10_000)
        let parked = ParkedSockets()
        defer { parked.closeAll() }

        try await RPCTestSupport.withGroup { group in
            // Accepts connections and never reads them: a hung peer.
            let listener = try TCPServer.listen(
                group: group, host: "127.0.0.1", port: 0, fileLimit: limit
            ) { _, fd, _ in parked.park(fd) }
            defer { listener.close() }

            let client = RPCClient(
                address: listener.address, group: group,
                configuration: .init(callTimeout: .milliseconds(300)))
            defer { client.close() }

            let error = await RPCTestSupport.error {
                _ = try await client.call(method: 1, payload: [])
            }
            #expect(error as? RPCError == .timeout)

            // The probe ping times out too, so the client gives up on that connection.
            #expect(await RPCTestSupport.eventually { client.metrics.connects.current >= 2 })
            #expect(client.metrics.connectionLosses.current >= 1)
        }
    }

    /// Runs `body` with a server on 127.0.0.1 port 0 and a blocking raw socket connected to
    /// it (2 s receive timeout).
    @Test func unfinishedCallsPastTheSharedBudgetCloseTheConnectionThatWouldExceedIt()
        async throws
    {
        let configuration = RPCServer.Configuration(
            maxPayloadSize: 64 << 10, maxBufferedBytes: 64 << 10)
        let call = RPCTestSupport.frame(
            ver: 0, op: 7, seq: 1, body: [UInt8](repeating: 1, count: 60 << 10))
        let head = Array(call[..<(40 << 10)])

        try await RPCTestSupport.withGroup { group in
            let server = RPCServer(
                group: group, configuration: configuration, handler: RPCTestSupport.echoHandler)
            let port = try server.start(host: "127.0.0.1", port: 0).port
            let first = try NetTestSupport.connectClient(port: port)
            let second = try NetTestSupport.connectClient(port: port)
            defer { close(first); close(second) }

            // 40 KiB of a 60 KiB call held by the first connection; 40 KiB more from the
            // second would take the total past 64 KiB.
            try NetTestSupport.writeAll(first, head)
            #expect(await RPCTestSupport.eventually { server.bufferedByteCount == head.count })
            try NetTestSupport.writeAll(second, head)

            #expect(await RPCTestSupport.peerClosed(second))
            #expect(server.metrics.bufferLimitCloses.current == 1)
            try NetTestSupport.writeAll(first, Array(call[(40 << 10)...]))
            let reply = try await RPCTestSupport.readFrame(first)
            #expect(reply.seq == 1 && reply.body.count == 60 << 10)
            #expect(server.bufferedByteCount == 0)
            await server.stop()
        }
    }

    private func withRawClient(
        _ configuration: RPCServer.Configuration = .init(), handler: any RPCHandler,
        _ body: (RPCServer, Int32) async throws -> Void
    ) async throws {
        try await RPCTestSupport.withGroup { group in
            let server = RPCServer(group: group, configuration: configuration, handler: handler)
            let address = try server.start(host: "127.0.0.1", port: 0)
            let fd = try NetTestSupport.connectClient(port: address.port)
            defer { close(fd) }

            try await body(server, fd)
            await server.stop()
        }
    }
}
