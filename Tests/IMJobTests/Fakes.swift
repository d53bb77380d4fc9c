import IMCore
import Synchronization

/// One call a fake comet received.
enum CometCall: Equatable, Sendable {
    case push(keys: [SessionKey], bodies: [[UInt8]])
    case broadcast(bodies: [[UInt8]])
    case broadcastRoom(RoomID, bodies: [[UInt8]])
}

struct CometFailure: Error {}

/// A comet that records its calls. It can fail every call, or hold room broadcasts until its
/// gate opens, to play a slow comet.
final class FakeComet: CometClient {
    let serverID: ServerID
    let gate: Gate?
    /// The room whose broadcasts wait for `gate`; nil: every room's.
    let gatedRoom: RoomID?
    private let failing: Bool
    private let recorded = Mutex<[CometCall]>([])

    init(serverID: ServerID, failing: Bool = false, gate: Gate? = nil, gatedRoom: RoomID? = nil) {
        self.serverID = serverID
        self.failing = failing
        self.gate = gate
        self.gatedRoom = gatedRoom
    }

    var calls: [CometCall] { recorded.withLock { $0 } }

    /// The bodies of every room broadcast to `room`, call by call.
    func roomBatches(_ room: RoomID) -> [[[UInt8]]] {
        calls.compactMap { call in
            guard case .broadcastRoom(room, let bodies) = call else { return nil }
            return bodies
        }
    }

    func push(keys: [SessionKey], bodies: [[UInt8]]) async throws {
        try record(.push(keys: keys, bodies: bodies))
    }

    func broadcast(bodies: [[UInt8]]) async throws {
        try record(.broadcast(bodies: bodies))
    }

    func broadcastRoom(_ room: RoomID, bodies: [[UInt8]]) async throws {
        if gatedRoom == nil || gatedRoom == room {
            await gate?.wait()
        }
        try record(.broadcastRoom(room, bodies: bodies))
    }

    private func record(_ call: CometCall) throws {
        if failing { throw CometFailure() }
        recorded.withLock { $0.append(call) }
    }
}

struct FakeDirectory: CometDirectory {
    let comets: [FakeComet]

    func comet(_ server: ServerID) -> (any CometClient)? {
        comets.first { $0.serverID == server }
    }

    func allComets() -> [any CometClient] { comets }
}

/// Holds callers until opened; never re-closes.
final class Gate: Sendable {
    private let state = Mutex<(isOpen: Bool, waiters: [CheckedContinuation<Void, Never>])>(
        (false, []))

    /// Callers that are waiting now.
    var waiting: Int { state.withLock { $0.waiters.count } }

    func wait() async {
        await withCheckedContinuation { waiter in
            state.withLock { state in
                if state.isOpen {
                    waiter.resume()
                } else {
                    state.waiters.append(waiter)
                }
            }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// Polls `condition` until it holds or `seconds` pass; never hangs a test.
func eventually(within seconds: Double = 5, _ condition: @Sendable () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}

func body(_ index: Int) -> [UInt8] {
    Array("m\(index)".utf8)
}

/// The index `body(_:)` was made from.
func index(of body: [UInt8]) -> Int? {
    Int(String(decoding: body.dropFirst(), as: UTF8.self))
}
