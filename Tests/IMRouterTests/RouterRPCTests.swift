import IMCore
import IMNet
import IMRouter
import IMTestKit
import Testing

@Suite struct RouterRPCTests {
    @Test func theTableServesMethods101To106() {
        #expect(RouterRPC.methods(serving: Router()).registeredMethods == Array(101...106))
    }

    @Test func aRemoteRouterAnswersLikeTheRouterItself() async throws {
        let local = Router()
        let served = Router()
        try await withRPCClient(serving: RouterRPC.methods(serving: served)) { client in
            let remote = RemoteRouter(client: client)
            try await expectSameAnswers(local, remote)
        }
    }

    /// Makes the same calls on both routers and compares every answer.
    private func expectSameAnswers(_ local: Router, _ remote: RemoteRouter) async throws {
        let puts: [(UserID, ServerID, RoomID?)] = [
            (1001, 1, 7), (1001, 2, nil), (1002, 1, 7), (-5, 3, Int32.max), (Int64.max, 2, 0),
        ]
        for (user, server, room) in puts {
            let expected = await local.put(user: user, server: server, room: room)
            #expect(try await remote.put(user: user, server: server, room: room) == expected)
        }

        let users: [UserID] = [1001, 1002, -5, Int64.max, 42]
        let sessions = try await remote.sessions(of: users)
        #expect(sessions == (await local.sessions(of: users)))
        #expect(sessions[1001]?.count == 2)
        #expect(try await remote.sessions(of: []) == [:])

        #expect(try await remote.roomCounts() == (await local.roomCounts()))
        #expect(try await remote.serverCounts() == (await local.serverCounts()))

        let existed = await local.delete(user: 1001, seq: 1)
        #expect(try await remote.delete(user: 1001, seq: 1) == existed)
        #expect(try await remote.delete(user: 1001, seq: 1) == false)
        #expect(await local.delete(user: 1001, seq: 1) == false)

        let removed = try await remote.deleteServer(1)
        #expect(removed == (await local.deleteServer(1)))
        #expect(removed == 1)
        #expect(try await remote.serverCounts() == (await local.serverCounts()))
        #expect(try await remote.roomCounts() == (await local.roomCounts()))
    }

    @Test func badPayloadsGetAnErrorReplyAndTheServerCarriesOn() async throws {
        let router = Router()
        try await withRPCClient(serving: RouterRPC.methods(serving: router)) { client in
            let payloads: [[UInt8]] = [
                [0xFF], [0xFF, 0xFF, 0xFF, 0xFF, 0x01], Array(repeating: 0, count: 40),
            ]
            for method in Int32(101)...106 {
                for payload in payloads {
                    await expectBadRequest(client, method: method, payload: payload)
                }
            }

            let remote = RemoteRouter(client: client)
            let seq = try await remote.put(user: 1, server: 1, room: nil)
            #expect(seq == 1)
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
