import IMCore
import IMNet
import Synchronization
import Testing

@Suite struct RPCClientServerTests {
    @Test func callReturnsTheHandlersReply() async throws {
        try await RPCTestSupport.withServerAndClient(handler: RPCTestSupport.echoHandler) {
            _, client in
            let reply = try await client.call(method: 1, payload: [1, 2, 3])
            #expect(reply == [1, 2, 3])
            #expect(try await client.call(method: 1, payload: []) == [])
            try await client.ping()
        }
    }

    @Test func thousandPipelinedCallsFromFiftyTasksAreAllAnsweredCorrectly() async throws {
        // Replies finish out of order: each waits a little, longer for low call numbers.
        let handler = RPCClosureHandler { method, payload in
            try await Task.sleep(for: .microseconds(Int(payload[1]) * 50))
            return payload.reversed() + [UInt8(truncatingIfNeeded: method)]
        }

        try await RPCTestSupport.withServerAndClient(handler: handler) { server, client in
            let mismatches = try await withThrowingTaskGroup(of: Int.self) { tasks in
                for task in 0..<50 {
                    tasks.addTask { try await Self.callTwentyTimes(client, task: task) }
                }
                return try await tasks.reduce(0, +)
            }

            #expect(mismatches == 0)
            #expect(server.metrics.calls.current == 1000)
            #expect(client.metrics.connects.current == 1)
            #expect(server.metrics.openConnections.current == 1)
        }
    }

    /// Twenty calls, one after another; how many replies were wrong.
    private static func callTwentyTimes(_ client: RPCClient, task: Int) async throws -> Int {
        var mismatches = 0
        for call in 0..<20 {
            let payload: [UInt8] = [UInt8(task), UInt8(19 - call), UInt8(call)]
            let method = Int32(100 + task)
            let reply = try await client.call(method: method, payload: payload)
            if reply != payload.reversed() + [UInt8(method)] { mismatches += 1 }
        }
        return mismatches
    }

    @Test func slowCallTimesOutWhileOtherCallsOnTheConnectionComplete() async throws {
        let gate = RPCGate()
        let handler = RPCClosureHandler { method, payload in
            if method == 9 { await gate.wait() }
            return payload
        }
        defer { gate.open() }

        try await RPCTestSupport.withServerAndClient(handler: handler) { _, client in
            async let slow = RPCTestSupport.error {
                _ = try await client.call(method: 9, payload: [], timeout: .milliseconds(300))
            }
            #expect(await RPCTestSupport.eventually { gate.arrivals == 1 })

            for index in 0..<20 {
                let reply = try await client.call(method: 1, payload: [UInt8(index)])
                #expect(reply == [UInt8(index)])
            }
            #expect(await slow as? RPCError == .timeout)

            // The connection survived the timeout and still serves calls.
            let after = try await client.call(method: 1, payload: [7])
            #expect(after == [7])
            #expect(client.metrics.connects.current == 1)
            #expect(client.metrics.timeouts.current == 1)
        }
    }

    @Test func lateReplyAfterATimeoutIsDroppedAndCounted() async throws {
        let gate = RPCGate()
        let handler = RPCClosureHandler { _, payload in
            await gate.wait()
            return payload
        }
        defer { gate.open() }

        try await RPCTestSupport.withServerAndClient(handler: handler) { _, client in
            let error = await RPCTestSupport.error {
                _ = try await client.call(method: 1, payload: [1], timeout: .milliseconds(200))
            }
            #expect(error as? RPCError == .timeout)

            gate.open()
            #expect(await RPCTestSupport.eventually { client.metrics.lateReplies.current == 1 })
            let after = try await client.call(method: 1, payload: [2])
            #expect(after == [2])
        }
    }

    @Test func handlerErrorReachesTheCallerAsRemote() async throws {
        try await RPCTestSupport.withServerAndClient(handler: RPCTestSupport.echoHandler) {
            server, client in
            let error = await RPCTestSupport.error {
                _ = try await client.call(method: 2, payload: [1, 2])
            }
            #expect(error as? RPCError == .remote("refused: 2 bytes"))
            #expect(server.metrics.failedCalls.current == 1)

            // The connection stays usable.
            let after = try await client.call(method: 1, payload: [5])
            #expect(after == [5])
        }
    }

    @Test func methodTableServesTypedMethodsAndRefusesUnknownOnes() async throws {
        var methods = RPCMethodTable()
        methods.register(201) { (key: SessionKey) in
            ConnectResult(key: SessionKey(user: key.user, seq: key.seq + 1), room: 4)
        }
        methods.register(202) { (sessions: [UserID: [SessionRecord]]) in
            sessions.values.reduce(0) { $0 + $1.count }
        }

        try await RPCTestSupport.withServerAndClient(handler: methods) { _, client in
            let result = try await client.call(
                method: 201, request: SessionKey(user: 10, seq: 1), as: ConnectResult.self)
            #expect(result == ConnectResult(key: SessionKey(user: 10, seq: 2), room: 4))

            let sessions: [UserID: [SessionRecord]] = [
                1: [SessionRecord(seq: 1, server: 1, room: nil)],
                2: [
                    SessionRecord(seq: 1, server: 1, room: 3),
                    SessionRecord(seq: 2, server: 2, room: 3),
                ],
            ]
            #expect(try await client.call(method: 202, request: sessions, as: Int.self) == 3)

            let unknown = await RPCTestSupport.error {
                _ = try await client.call(method: 299, payload: [])
            }
            #expect(unknown as? RPCError == .remote("unknown method 299"))

            let malformed = await RPCTestSupport.error {
                _ = try await client.call(method: 201, payload: [1, 2, 3])
            }
            guard case .remote(let message) = malformed as? RPCError else {
                Issue.record("expected a remote error, got \(String(describing: malformed))")
                return
            }
            #expect(message.hasPrefix("bad request for method 201"))
        }
    }

    @Test func undecodableReplyIsAProtocolError() async throws {
        try await RPCTestSupport.withServerAndClient(handler: RPCTestSupport.echoHandler) {
            _, client in
            let error = await RPCTestSupport.error {
                _ = try await client.call(method: 1, request: Int32(5), as: String.self)
            }
            guard case .protocolError = error as? RPCError else {
                Issue.record("expected a protocol error, got \(String(describing: error))")
                return
            }
        }
    }

    @Test func serverRestartOnTheSamePortIsReconnectedAfterFailingFast() async throws {
        try await RPCTestSupport.withGroup { group in
            let first = RPCServer(group: group, handler: RPCTestSupport.echoHandler)
            let address = try first.start(host: "127.0.0.1", port: 0)
            let client = RPCClient(
                address: address, group: group,
                configuration: .init(callTimeout: RPCTestSupport.callTimeout))
            defer { client.close() }
            #expect(try await client.call(method: 1, payload: [1]) == [1])

            await first.stop()
            #expect(await RPCTestSupport.eventually { client.connectionState != .connected })

            // The server is gone: a call with a long timeout fails at once instead.
            let outage = await RPCTestSupport.error {
                _ = try await client.call(method: 1, payload: [2], timeout: .seconds(60))
            }
            #expect(outage as? RPCError == .disconnected)

            let second = RPCServer(group: group, handler: RPCTestSupport.echoHandler)
            _ = try second.start(host: "127.0.0.1", port: address.port)

            let recovered = await RPCTestSupport.eventually {
                (try? await client.call(method: 1, payload: [3])) == [3]
            }
            #expect(recovered)
            #expect(client.metrics.connects.current == 2)
            #expect(client.metrics.connectionLosses.current == 1)
            await second.stop()
        }
    }

    @Test func callsToAnAddressWithNoServerFailFast() async throws {
        try await RPCTestSupport.withGroup { group in
            // Bind and stop a server to learn a port nobody listens on.
            let probe = RPCServer(group: group, handler: RPCTestSupport.echoHandler)
            let address = try probe.start(host: "127.0.0.1", port: 0)
            await probe.stop()

            let client = RPCClient(address: address, group: group)
            defer { client.close() }
            #expect(
                await RPCTestSupport.eventually { client.connectionState == .waitingToReconnect })

            let error = await RPCTestSupport.error {
                _ = try await client.call(method: 1, payload: [], timeout: .seconds(60))
            }
            #expect(error as? RPCError == .disconnected)
            #expect(client.metrics.failedFast.current >= 1)
        }
    }

    @Test func hostNamesAreResolvedOffTheLoop() async throws {
        try await RPCTestSupport.withGroup { group in
            let server = RPCServer(group: group, handler: RPCTestSupport.echoHandler)
            let bound = try server.start(host: "127.0.0.1", port: 0)
            let client = RPCClient(
                address: SocketAddress(host: "localhost", port: bound.port), group: group)
            #expect(await RPCTestSupport.eventually { client.connectionState == .connected })

            #expect(try await client.call(method: 1, payload: [4], timeout: .seconds(5)) == [4])
            client.close()
            await server.stop()
        }
    }

    @Test func closingTheClientFailsPendingAndLaterCalls() async throws {
        let gate = RPCGate()
        let handler = RPCClosureHandler { _, payload in
            await gate.wait()
            return payload
        }
        defer { gate.open() }

        try await RPCTestSupport.withServerAndClient(handler: handler) { _, client in
            async let pending = RPCTestSupport.error {
                _ = try await client.call(method: 1, payload: [1])
            }
            #expect(await RPCTestSupport.eventually { gate.arrivals == 1 })

            client.close()
            #expect(await pending as? RPCError == .closed)
            let later = await RPCTestSupport.error { try await client.ping() }
            #expect(later as? RPCError == .closed)
            #expect(client.connectionState == .closed)
        }
    }

    @Test func cancellingTheCallingTaskEndsTheCall() async throws {
        let gate = RPCGate()
        let handler = RPCClosureHandler { _, payload in
            await gate.wait()
            return payload
        }
        defer { gate.open() }

        try await RPCTestSupport.withServerAndClient(handler: handler) { _, client in
            let task = Task {
                try await client.call(method: 1, payload: [1], timeout: .seconds(60))
            }
            #expect(await RPCTestSupport.eventually { gate.arrivals == 1 })

            task.cancel()
            let result = await task.result
            #expect(throws: CancellationError.self) { try result.get() }

            // The server still answers; the reply to the cancelled call is dropped.
            gate.open()
            #expect(await RPCTestSupport.eventually { client.metrics.lateReplies.current == 1 })
            let after = try await client.call(method: 1, payload: [9])
            #expect(after == [9])
        }
    }

    @Test func payloadOverTheClientLimitIsRefusedWithoutSending() async throws {
        try await RPCTestSupport.withServerAndClient(
            client: .init(maxPayloadSize: 100), handler: RPCTestSupport.echoHandler
        ) { server, client in
            let error = await RPCTestSupport.error {
                _ = try await client.call(method: 1, payload: Array(repeating: 0, count: 101))
            }
            #expect(error as? RPCError == .payloadTooLarge(size: 101, limit: 100))
            #expect(server.metrics.calls.current == 0)
        }
    }

    @Test func replyOverTheClientLimitClosesTheConnectionAsAProtocolError() async throws {
        let handler = RPCClosureHandler { _, _ in Array(repeating: 1, count: 5000) }
        try await RPCTestSupport.withServerAndClient(
            client: .init(callTimeout: RPCTestSupport.callTimeout, maxPayloadSize: 1000),
            handler: handler
        ) { _, client in
            let error = await RPCTestSupport.error {
                _ = try await client.call(method: 1, payload: [])
            }
            guard case .protocolError = error as? RPCError else {
                Issue.record("expected a protocol error, got \(String(describing: error))")
                return
            }
            #expect(await RPCTestSupport.eventually { client.metrics.connects.current == 2 })
        }
    }

    @Test func replyOverTheServerLimitBecomesAnErrorReply() async throws {
        let handler = RPCClosureHandler { _, _ in Array(repeating: 1, count: 5000) }
        try await RPCTestSupport.withServerAndClient(
            server: .init(maxPayloadSize: 1000), handler: handler
        ) { _, client in
            let error = await RPCTestSupport.error {
                _ = try await client.call(method: 1, payload: [])
            }
            #expect(error as? RPCError == .remote("reply of 5000 bytes is over the limit"))
        }
    }
}

@Suite struct RPCClientLimitTests {
    @Test func backoffDoublesToItsMaximumWithJitterAndResets() {
        var backoff = RPCBackoff(initialMillis: 50, maxMillis: 2000)
        let bases = [50, 100, 200, 400, 800, 1600, 2000, 2000]
        for base in bases {
            #expect((base / 2...base).contains(backoff.nextDelayMillis()))
        }

        backoff.reset()
        #expect((25...50).contains(backoff.nextDelayMillis()))
    }

    @Test func callsBeyondThePendingLimitAreRefused() async throws {
        let gate = RPCGate()
        let handler = RPCClosureHandler { _, payload in
            await gate.wait()
            return payload
        }
        defer { gate.open() }
        let configuration = RPCClient.Configuration(
            callTimeout: RPCTestSupport.callTimeout, maxPendingCalls: 2)

        try await RPCTestSupport.withServerAndClient(client: configuration, handler: handler) {
            _, client in
            async let first = client.call(method: 1, payload: [1])
            async let second = client.call(method: 1, payload: [2])
            #expect(await RPCTestSupport.eventually { gate.arrivals == 2 })

            let third = await RPCTestSupport.error {
                _ = try await client.call(method: 1, payload: [3])
            }
            #expect(third as? RPCError == .overloaded)

            gate.open()
            let replies = try await [first, second]
            #expect(replies == [[1], [2]])
        }
    }

    @Test func shuttingDownTheClientsLoopFailsCallsInsteadOfHanging() async throws {
        let gate = RPCGate()
        let handler = RPCClosureHandler { _, payload in
            await gate.wait()
            return payload
        }
        defer { gate.open() }

        try await RPCTestSupport.withGroup { serverGroup in
            let server = RPCServer(group: serverGroup, handler: handler)
            let address = try server.start(host: "127.0.0.1", port: 0)
            let clientGroup = try EventLoopGroup(loopCount: 1)
            clientGroup.start()
            let client = RPCClient(address: address, group: clientGroup)

            async let pending = RPCTestSupport.error {
                _ = try await client.call(method: 1, payload: [1], timeout: .seconds(60))
            }
            #expect(await RPCTestSupport.eventually { gate.arrivals == 1 })

            clientGroup.shutdown()
            #expect(await pending as? RPCError == .closed)
            let later = await RPCTestSupport.error { try await client.ping() }
            #expect(later as? RPCError == .closed)
            #expect(client.connectionState == .closed)
            await server.stop()
        }
    }
}
