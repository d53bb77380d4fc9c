import IMCore
import IMNet
import IMTestKit
import Testing

@testable import IMLogic

/// Runs `body` with a `RemoteLogic` whose calls reach `logic` over a real socket.
func withRemoteLogic<T>(
    _ logic: Logic, _ body: (RemoteLogic, RPCClient) async throws -> T
) async throws -> T {
    try await withRPCClient(serving: LogicRPC.methods(serving: logic)) { client in
        try await body(RemoteLogic(client: client), client)
    }
}

func token(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite struct LogicRPCConnectTests {
    @Test func theTableServesMethods201To204() throws {
        let fixture = try LogicFixture()
        #expect(LogicRPC.methods(serving: fixture.logic).registeredMethods == Array(201...204))
    }

    @Test func aRemoteConnectRecordsTheSessionAndDisconnectRemovesIt() async throws {
        let fixture = try LogicFixture()
        try await withRemoteLogic(fixture.logic) { logic, _ in
            let result = try await logic.connect(server: 3, token: token(#"{"mid":42,"room":9}"#))

            #expect(result == ConnectResult(key: SessionKey(user: 42, seq: 1), room: 9))
            #expect(
                await fixture.router.table.sessions(of: [42])
                    == [42: [SessionRecord(seq: 1, server: 3, room: 9)]])
            #expect(try await logic.disconnect(server: 3, key: result.key))
            #expect(try await logic.disconnect(server: 3, key: result.key) == false)
            #expect(fixture.router.table.sessionCount == 0)
        }
    }

    @Test func aRefusedTokenArrivesAsRefused() async throws {
        let fixture = try LogicFixture()
        try await withRemoteLogic(fixture.logic) { logic, _ in
            await #expect(throws: ConnectError.refused) {
                try await logic.connect(server: 1, token: token("not a token"))
            }
            #expect(fixture.logic.metrics.authRefusals.current == 1)
        }
    }

    @Test func aRouterThatIsDownArrivesAsUnavailable() async throws {
        let fixture = try LogicFixture()
        fixture.router.goDown()
        try await withRemoteLogic(fixture.logic) { logic, _ in
            let error = await connectError {
                _ = try await logic.connect(server: 1, token: token("7"))
            }
            guard case .unavailable(let reason)? = error else {
                Issue.record("expected unavailable, got \(String(describing: error))")
                return
            }
            #expect(reason.contains("connection refused"))

            let disconnectError = await connectError {
                _ = try await logic.disconnect(server: 1, key: SessionKey(user: 7, seq: 1))
            }
            guard case .unavailable? = disconnectError else {
                Issue.record("expected unavailable, got \(String(describing: disconnectError))")
                return
            }
        }
    }

    @Test func aTransportFailureArrivesAsUnavailable() async throws {
        let fixture = try LogicFixture()
        try await withRemoteLogic(fixture.logic) { logic, client in
            client.close()
            let error = await connectError {
                _ = try await logic.connect(server: 1, token: token("7"))
            }
            #expect(error == .unavailable("logic: \(RPCError.closed)"))
        }
    }

    @Test func badPayloadsGetAnErrorReplyAndTheServerCarriesOn() async throws {
        let fixture = try LogicFixture()
        try await withRemoteLogic(fixture.logic) { logic, client in
            let payloads: [[UInt8]] = [
                [0xFF], [0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF], Array(repeating: 0, count: 40),
            ]
            for method in Int32(201)...204 {
                for payload in payloads {
                    await expectBadRequest(client, method: method, payload: payload)
                }
            }
            // A registration whose address is not UTF-8.
            let badAddress: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 1, 0xFF] + Array(repeating: 0, count: 9)
            await expectBadRequest(client, method: 203, payload: badAddress)

            let result = try await logic.connect(server: 1, token: token("7"))
            #expect(result.key.user == 7)
        }
    }

    @Test func aConnectReplyWithAnUnknownTagIsAProtocolError() throws {
        #expect(throws: RPCDecodingError.invalidTag(3)) {
            try RPCDecoder.decode(LogicRPC.ConnectReply.self, from: [3])
        }
        let reply = LogicRPC.ConnectReply.unavailable("router 1: down")
        let encoded = RPCEncoder.encode(reply)
        #expect(try RPCDecoder.decode(LogicRPC.ConnectReply.self, from: encoded) == reply)
    }

    private func connectError(_ body: () async throws -> Void) async -> ConnectError? {
        do {
            try await body()
            return nil
        } catch let error as ConnectError {
            return error
        } catch {
            Issue.record("not a ConnectError: \(error)")
            return nil
        }
    }
}

/// Expects `payload` to be refused by `method` with an error reply naming a bad request.
func expectBadRequest(_ client: RPCClient, method: Int32, payload: [UInt8]) async {
    do {
        _ = try await client.call(method: method, payload: payload)
        Issue.record("method \(method) accepted \(payload)")
    } catch RPCError.remote(let message) {
        #expect(message.contains("bad request for method \(method)"), "\(message)")
    } catch {
        Issue.record("method \(method): unexpected \(error)")
    }
}
