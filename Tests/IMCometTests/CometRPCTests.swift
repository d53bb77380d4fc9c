import IMCore
import IMNet
import Synchronization
import Testing

@testable import IMComet

/// Runs `body` with a `RemoteComet` whose calls reach the harness's comet over a real socket.
private func withRemoteComet(
    _ harness: CometHarness, _ body: (RemoteComet, RPCClient) async throws -> Void
) async throws {
    let methods = CometRPC.methods(serving: harness.comet)
    let server = RPCServer(group: harness.group, handler: methods)
    let address = try server.start(host: "127.0.0.1", port: 0)
    let client = RPCClient(
        address: address, group: harness.group, configuration: .init(callTimeout: .seconds(5)))
    do {
        try await body(RemoteComet(serverID: harness.comet.serverID, client: client), client)
    } catch {
        client.close()
        await server.stop()
        throw error
    }
    client.close()
    await server.stop()
}

@Suite(.serialized)
struct CometRPCTests {
    /// Bytes no JSON encoder would leave alone.
    let binary: [UInt8] = [0, 0xFF, 0x22, 0x5C, 0x0A, 0x80]

    @Test func theTableServesMethods301To303() {
        #expect(CometRPC.methods(serving: SilentComet()).registeredMethods == [301, 302, 303])
    }

    @Test func aRemotePushReachesTheKeysConnectionWithTheBytesAsTheyWere() async throws {
        try await withComet { harness in
            let target = try await harness.authenticated("7")
            let other = try await harness.authenticated("8")
            try await withRemoteComet(harness) { comet, _ in
                #expect(comet.serverID == harness.comet.serverID)
                try await comet.push(
                    keys: [SessionKey(user: 7, seq: 1)], bodies: [binary, Array("two".utf8)])

                let frames = try await target.readFrames(2)
                #expect(frames.map(\.body) == [binary, Array("two".utf8)])
                #expect(frames.allSatisfy { $0.op == Operation.push })
                #expect(try await other.staysQuiet())
            }
        }
    }

    @Test func aRemoteBroadcastReachesEveryConnection() async throws {
        try await withComet { harness in
            let clients = [
                try await harness.authenticated("1"), try await harness.authenticated("2"),
            ]
            try await withRemoteComet(harness) { comet, _ in
                try await comet.broadcast(bodies: [binary])

                for client in clients {
                    #expect(try await client.readFrame()?.body == binary)
                }
            }
        }
    }

    @Test func aRemoteRoomBroadcastReachesOnlyTheRoom() async throws {
        try await withComet { harness in
            let member = try await harness.authenticated(#"{"mid":1,"room":5}"#)
            let outsider = try await harness.authenticated(#"{"mid":2,"room":6}"#)
            try await withRemoteComet(harness) { comet, _ in
                try await comet.broadcastRoom(5, bodies: [Array("room 5".utf8)])

                #expect(try await member.readFrame()?.text == "room 5")
                #expect(try await outsider.staysQuiet())
            }
        }
    }

    @Test func badPayloadsGetAnErrorReplyAndTheServerCarriesOn() async throws {
        try await withComet { harness in
            let client = try await harness.authenticated("1")
            try await withRemoteComet(harness) { comet, rpc in
                let payloads: [[UInt8]] = [
                    [0xFF], [0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF], Array(repeating: 0, count: 40),
                ]
                for method in Int32(301)...303 {
                    for payload in payloads {
                        await expectBadRequest(rpc, method: method, payload: payload)
                    }
                }

                try await comet.broadcast(bodies: [Array("still here".utf8)])
                #expect(try await client.readFrame()?.text == "still here")
            }
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

/// A registry that records registrations and fails the first `failures` of them.
final class RecordingRegistry: CometRegistry {
    private let state = Mutex<(registrations: [CometRegistration], failures: Int)>(([], 0))

    init(failures: Int = 0) {
        state.withLock { $0.failures = failures }
    }

    var registrations: [CometRegistration] { state.withLock { $0.registrations } }

    func failNext(_ count: Int) { state.withLock { $0.failures = count } }

    func register(_ registration: CometRegistration) async throws {
        try state.withLock { state in
            if state.failures > 0 {
                state.failures -= 1
                throw RegistryDown()
            }
            state.registrations.append(registration)
        }
    }

    func comets(after generation: UInt64, wait: Duration) async throws -> CometList {
        CometList(generation: 1, comets: [])
    }
}

struct RegistryDown: Error {}

/// A comet that accepts every call and does nothing.
struct SilentComet: CometClient {
    var serverID: ServerID { 1 }
    func push(keys: [SessionKey], bodies: [[UInt8]]) async throws {}
    func broadcast(bodies: [[UInt8]]) async throws {}
    func broadcastRoom(_ room: RoomID, bodies: [[UInt8]]) async throws {}
}

@Suite(.serialized)
struct CometRegistrarTests {
    @Test func theFirstRegistrationIsFreshAndRetriedUntilItSucceeds() async throws {
        try await withComet { harness in
            let registry = RecordingRegistry(failures: 2)
            let registrar = CometRegistrar(
                comet: harness.comet, registry: registry, rpcAddress: "10.0.0.1:7001")

            try await registrar.registerFirst(timeout: .seconds(5))

            #expect(
                registry.registrations == [
                    CometRegistration(
                        server: harness.comet.serverID, rpcAddress: "10.0.0.1:7001", online: 0,
                        fresh: true)
                ])
            #expect(harness.comet.metrics.registrationFailures.current == 2)
        }
    }

    @Test func theFirstRegistrationGivesUpAfterTheTimeout() async throws {
        try await withComet { harness in
            let registry = RecordingRegistry(failures: .max)
            let registrar = CometRegistrar(
                comet: harness.comet, registry: registry, rpcAddress: "10.0.0.1:7001")

            await #expect(throws: RegistryDown.self) {
                try await registrar.registerFirst(timeout: .milliseconds(300))
            }
            #expect(registry.registrations.isEmpty)
            #expect(harness.comet.metrics.registrationFailures.current >= 1)
        }
    }

    @Test func refreshesCarryTheOnlineCountAndSurviveFailures() async throws {
        try await withComet { harness in
            let registry = RecordingRegistry()
            let registrar = CometRegistrar(
                comet: harness.comet, registry: registry, rpcAddress: "10.0.0.1:7001",
                interval: .milliseconds(50))
            let client = try await harness.authenticated("1")
            defer { client.close() }
            #expect(await eventually { harness.comet.connectionCount == 1 })
            registry.failNext(2)

            let refreshing = Task { await registrar.run() }
            defer { refreshing.cancel() }

            #expect(await eventually { registry.registrations.count >= 2 })
            let refresh = try #require(registry.registrations.first)
            #expect(refresh.fresh == false)
            #expect(refresh.online == 1)
            #expect(harness.comet.metrics.registrationFailures.current == 2)
        }
    }
}
