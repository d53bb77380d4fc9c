import Foundation
import IMComet
import IMCore
import IMNet
import Testing

@testable import IMCLI

/// `imctl` running in-process on a thread of its own: the test's task stays free to watch
/// what it prints and to drive a server meanwhile, and no cooperative thread is held while the
/// command blocks in `poll`.
final class BackgroundCommand: Sendable {
    let stdout = CapturedOutput()
    let stderr = CapturedOutput()
    private let stop = StopSignal()
    private let status: Task<Int32, Never>

    init(_ arguments: [String]) {
        let (stdout, stderr, stop) = (self.stdout, self.stderr, self.stop)
        status = Task {
            await withCheckedContinuation { continuation in
                Thread {
                    let status = IMCommandLine.run(
                        arguments: arguments, environment: [:], stdin: BufferedInput(),
                        stdout: stdout, stderr: stderr, stop: stop)
                    continuation.resume(returning: status)
                }.start()
            }
        }
    }

    /// Waits for the command to end by itself. After `limit` it is stopped (it then exits 0)
    /// and the test records an issue, so a client that does not end fails instead of hanging.
    func result(within limit: Duration = .seconds(10)) async -> CLIResult {
        let stop = self.stop
        let timer = Task {
            try await Task.sleep(for: limit)
            stop.trigger()
        }
        let status = await status.value
        timer.cancel()
        if stop.isTriggered {
            Issue.record("imctl did not end within \(limit); the test stopped it")
        }
        return CLIResult(
            status: status, stdout: stdout.text, stderr: stderr.text, stdoutBytes: stdout.data)
    }
}

/// A comet with one WebSocket listener on 127.0.0.1 (TLS with `tls`) and a logic that
/// accepts every token the default authenticator accepts.
final class WebSocketComet: Sendable {
    let comet: Comet
    let port: Int
    private let group: EventLoopGroup

    init(tls: TLSContext? = nil) throws {
        group = try EventLoopGroup(loopCount: 1)
        group.start()
        comet = Comet(group: group, logic: AcceptingLogic())
        port = try comet.listenWebSocket(host: "127.0.0.1", port: 0, tls: tls).port
    }

    func url(scheme: String = "ws") -> String { "\(scheme)://127.0.0.1:\(port)/sub" }

    /// Shuts the comet down (closing every client) and stops its loop thread.
    func stop() async {
        await comet.shutdown()
        let group = self.group
        await withCheckedContinuation { continuation in
            Thread {
                group.shutdown()
                continuation.resume()
            }.start()
        }
    }

    private struct AcceptingLogic: LogicClient {
        func connect(server: ServerID, token: [UInt8]) async throws -> ConnectResult {
            guard let identity = DefaultAuthenticator().authenticate(token: token) else {
                throw ConnectError.refused
            }
            return ConnectResult(key: SessionKey(user: identity.user, seq: 1), room: identity.room)
        }

        func disconnect(server: ServerID, key: SessionKey) async throws -> Bool { true }
    }
}

extension WebSocketComet {
    /// Runs `client connect --ws URL` with `extra` arguments; once the client says it is
    /// authenticated (comet has then put it in its room), pushes `bodies` to room 7, waits until
    /// the client has printed a line for each, and shuts the comet down, which ends the client.
    func session(_ extra: [String], scheme: String = "ws", bodies: [String]) async throws
        -> CLIResult
    {
        let client = BackgroundCommand(["client", "connect", "--ws", url(scheme: scheme)] + extra)

        if await waitUntil({ client.stderr.text.hasPrefix("authenticated\n") }) {
            try await comet.broadcastRoom(7, bodies: bodies.map { Array($0.utf8) })
            _ = await waitUntil { client.stdout.text.count(where: { $0 == "\n" }) >= bodies.count }
        }
        await stop()
        return await client.result()
    }
}

/// Checks `condition` every 10 ms until it holds or `limit` passes; whether it held.
func waitUntil(within limit: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}
