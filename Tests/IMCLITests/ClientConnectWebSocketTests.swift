import Dispatch
import IMComet
import IMCore
import IMNet
import Synchronization
import Testing

@testable import IMCLI

/// `imctl client connect --ws` against a real comet (WebSocket listener, accepting logic).
@Suite(.serialized)
struct ClientConnectWebSocketTests {
    /// Accepts every token the default authenticator accepts; each session is seq 1.
    private struct AcceptingLogic: LogicClient {
        func connect(server: ServerID, token: [UInt8]) async throws -> ConnectResult {
            guard let identity = DefaultAuthenticator().authenticate(token: token) else {
                throw ConnectError.refused
            }
            return ConnectResult(key: SessionKey(user: identity.user, seq: 1), room: identity.room)
        }

        func disconnect(server: ServerID, key: SessionKey) async throws -> Bool { true }
    }

    /// Runs `imctl client connect --ws` with `extra` arguments against a fresh comet, pushes
    /// `bodies` to the room once the client is in, then stops the comet (ending the client).
    private func session(_ extra: [String], bodies: [String]) async throws -> CLIResult {
        let group = try EventLoopGroup(loopCount: 1)
        group.start()
        let comet = Comet(group: group, logic: AcceptingLogic())
        let port = try comet.listenWebSocket(host: "127.0.0.1", port: 0).port
        let url = "ws://127.0.0.1:\(port)/sub"

        let outcome = Mutex<CLIResult?>(nil)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let result = imctl(["client", "connect", "--ws", url] + extra)
            outcome.withLock { $0 = result }
            done.signal()
        }

        let joined = await waitUntil { comet.connectionCount == 1 }
        if joined {
            try await comet.broadcastRoom(7, bodies: bodies.map { Array($0.utf8) })
            try await Task.sleep(for: .milliseconds(300))
        }
        await comet.shutdown()
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                _ = done.wait(timeout: .now() + 10)
                group.shutdown()
                continuation.resume()
            }
        }
        return try #require(outcome.withLock { $0 })
    }

    @Test func jsonModePrintsEachPushedBody() async throws {
        let result = try await session(
            ["--token", #"{"mid":1003,"room":7}"#], bodies: [#"{"a":1}"#, "[2]"])

        #expect(result.stdout == "{\"a\":1}\n[2]\n")
        #expect(result.stderr.hasPrefix("authenticated\nError: the server closed the connection"))
        #expect(result.status == 1)
    }

    @Test func binaryModePrintsBodiesByteForByte() async throws {
        let result = try await session(
            ["--binary", "--token", #"{"mid":1004,"room":7}"#], bodies: ["plain text", "x"])

        #expect(result.stdout == "plain text\nx\n")
        #expect(result.status == 1)
    }

    @Test func jsonRequestPlacesTheTokenAsRawJSON() {
        let auth = Frame(ver: 1, op: Operation.auth, seq: 1, body: Array("1001".utf8))
        let text = String(decoding: WebSocketClientSession.jsonRequest(auth), as: UTF8.self)
        #expect(text == #"{"ver":1,"op":7,"seq":1,"body":1001}"#)

        let word = Frame(ver: 1, op: Operation.auth, seq: 1, body: Array("abc".utf8))
        let quoted = String(decoding: WebSocketClientSession.jsonRequest(word), as: UTF8.self)
        #expect(quoted == #"{"ver":1,"op":7,"seq":1,"body":"abc"}"#)
    }

    @Test func binaryWithoutWebSocketIsAUsageError() {
        let result = imctl(["client", "connect", "--token", "1", "--binary"])

        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("Error: --binary needs --ws\n"))
    }

    private func waitUntil(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<500 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }
}
