import Dispatch
import Foundation
import IMCore
import IMNet
import IMTestKit

@testable import IMComet

/// A comet on a real two-loop group, listening on 127.0.0.1 with a free port, with a fake
/// logic. Always stopped by `withComet`, even when the test body throws.
final class CometHarness: Sendable {
    let group: EventLoopGroup
    let comet: Comet
    let logic: FakeLogic
    let port: UInt16

    private init(group: EventLoopGroup, comet: Comet, logic: FakeLogic, port: UInt16) {
        self.group = group
        self.comet = comet
        self.logic = logic
        self.port = port
    }

    static func start(
        _ configuration: CometConfiguration, logic: FakeLogic, loopCount: Int
    ) throws -> CometHarness {
        let group = try EventLoopGroup(loopCount: loopCount)
        group.start()
        let comet = Comet(group: group, logic: logic, configuration: configuration)
        do {
            let address = try comet.listenTCP(host: "127.0.0.1", port: 0)
            let port = UInt16(address.port)
            return CometHarness(group: group, comet: comet, logic: logic, port: port)
        } catch {
            group.shutdown()
            throw error
        }
    }

    func stop() async {
        await comet.shutdown()
        await offPoolSafely { [group] in group.shutdown() }
    }

    /// A connected client that has sent nothing yet.
    func connect(receiveBufferSize: Int? = nil) async throws -> TestClient {
        let port = self.port
        return TestClient(
            try await offPool {
                try GoimTestClient(
                    host: "127.0.0.1", port: port, receiveBufferSize: receiveBufferSize)
            })
    }

    /// A client authenticated with `token`.
    func authenticated(_ token: String, receiveBufferSize: Int? = nil) async throws -> TestClient {
        let client = try await connect(receiveBufferSize: receiveBufferSize)
        _ = try await client.authenticate(token)
        return client
    }

    /// Which loop holds the session `key`, once it is registered.
    func loopIndex(of key: SessionKey) async -> Int? {
        await comet.loopSnapshots().firstIndex { $0.keys.contains(key) }
    }
}

/// Runs `body` against a started comet and always stops it afterwards.
func withComet(
    _ configuration: CometConfiguration = CometConfiguration(),
    logic: FakeLogic = FakeLogic(), loopCount: Int = 2,
    _ body: (CometHarness) async throws -> Void
) async throws {
    let harness = try CometHarness.start(configuration, logic: logic, loopCount: loopCount)
    do {
        try await body(harness)
    } catch {
        await harness.stop()
        throw error
    }
    await harness.stop()
}

/// `GoimTestClient` with its blocking calls moved off the cooperative thread pool: the comet
/// needs that pool to ask the (fake) logic, so a test must never block it.
struct TestClient: Sendable {
    let raw: GoimTestClient

    init(_ raw: GoimTestClient) {
        self.raw = raw
    }

    @discardableResult
    func authenticate(_ token: String, seq: Int32 = 1) async throws -> Frame {
        try await offPool { [raw] in try raw.authenticate(token: token, seq: seq) }
    }

    /// Sends one frame; throws when it could not be sent in full.
    func send(_ frame: Frame) async throws {
        try await sendRaw(frame.encoded)
    }

    func sendRaw(_ bytes: [UInt8]) async throws {
        guard await offPoolSafely({ [raw] in raw.sendRaw(bytes) }) else {
            throw GoimTestClient.ClientError.closedByPeer
        }
    }

    func readFrame(timeout: TimeInterval? = nil) async throws -> Frame? {
        try await offPool { [raw] in try raw.readFrame(timeout: timeout) }
    }

    func readFrames(_ count: Int, timeout: TimeInterval? = nil) async throws -> [Frame] {
        try await offPool { [raw] in try raw.readFrames(count: count, timeout: timeout) }
    }

    func isClosedByPeer(within seconds: TimeInterval = 5) async -> Bool {
        await offPoolSafely { [raw] in raw.isClosedByPeer(within: seconds) }
    }

    /// Whether nothing arrives for `seconds` and the connection stays open.
    func staysQuiet(for seconds: TimeInterval = 0.3) async throws -> Bool {
        try await readFrame(timeout: seconds) == nil
    }

    func close() {
        raw.close()
    }
}

/// Runs blocking work on a Dispatch thread and awaits it.
func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try work() })
        }
    }
}

/// `offPool` for work that cannot fail.
func offPoolSafely<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
}

/// Polls `condition` until it holds or `timeout` passes; whether it held.
func eventually(
    within timeout: Duration = .seconds(5), _ condition: () async -> Bool
) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}

extension Frame {
    /// A client request with ver 1.
    static func request(_ op: Int32, seq: Int32, body: String = "") -> Frame {
        Frame(ver: 1, op: op, seq: seq, body: Array(body.utf8))
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}
