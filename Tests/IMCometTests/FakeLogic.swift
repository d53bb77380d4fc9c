import IMCore
import Synchronization

/// A logic role for comet tests: authenticates like `DefaultAuthenticator` (decimal token →
/// user in room 1, `{"mid":..,"room":..}` → that user and room), numbers each user's sessions
/// from 1, and records every disconnect. Can be made slow, refusing or failing.
final class FakeLogic: LogicClient {
    private struct State {
        var nextSeq: [UserID: Int32] = [:]
        var connects = 0
        var disconnects: [SessionKey] = []
        var delay: Duration = .zero
        var refuseAll = false
        var unavailable = false
        var fixedKey: SessionKey?
    }

    private let state = Mutex(State())
    private let authenticator = DefaultAuthenticator()

    /// Answers every connect after `delay`.
    func setDelay(_ delay: Duration) { state.withLock { $0.delay = delay } }

    /// Refuses every token from now on.
    func refuseEverything() { state.withLock { $0.refuseAll = true } }

    /// Fails every connect as if the router could not be reached.
    func failEverything() { state.withLock { $0.unavailable = true } }

    /// Returns `key` for every accepted token (a router that restarted and reuses keys).
    func alwaysReturn(_ key: SessionKey) { state.withLock { $0.fixedKey = key } }

    var connectCount: Int { state.withLock { $0.connects } }
    var disconnects: [SessionKey] { state.withLock { $0.disconnects } }

    func connect(server: ServerID, token: [UInt8]) async throws -> ConnectResult {
        let delay = state.withLock { state in
            state.connects += 1
            return state.delay
        }
        if delay > .zero { try await Task.sleep(for: delay) }

        guard let identity = authenticator.authenticate(token: token) else {
            throw ConnectError.refused
        }
        return try state.withLock { state in
            guard !state.refuseAll else { throw ConnectError.refused }
            guard !state.unavailable else { throw ConnectError.unavailable("router down") }
            if let fixed = state.fixedKey { return ConnectResult(key: fixed, room: identity.room) }

            let seq = state.nextSeq[identity.user, default: 1]
            state.nextSeq[identity.user] = seq + 1
            let key = SessionKey(user: identity.user, seq: seq)
            return ConnectResult(key: key, room: identity.room)
        }
    }

    func disconnect(server: ServerID, key: SessionKey) async throws -> Bool {
        state.withLock { $0.disconnects.append(key) }
        return true
    }
}
