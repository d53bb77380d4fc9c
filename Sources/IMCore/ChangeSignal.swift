import Synchronization

/// A version number that tasks can wait on: `wait(whileVersionIs:timeout:)` returns once the
/// version differs from the one the caller saw, the timeout passes or the task is cancelled.
public final class ChangeSignal: Sendable {
    private struct State {
        var version: UInt64
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let state: Mutex<State>

    public init(version: UInt64 = 0) {
        state = Mutex(State(version: version))
    }

    public var version: UInt64 { state.withLock { $0.version } }

    /// Sets the version; wakes every waiter when it changed.
    public func set(_ version: UInt64) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard state.version != version else { return [] }
            state.version = version
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        woken.forEach { $0.resume() }
    }

    /// Returns when the version is no longer `seen`, after `timeout`, or on cancellation,
    /// whichever comes first. Returns the version then.
    @discardableResult
    public func wait(whileVersionIs seen: UInt64, timeout: Duration) async -> UInt64 {
        if version != seen || timeout <= .zero { return version }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForChange(from: seen) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        return version
    }

    private func waitForChange(from seen: UInt64) async {
        let id = state.withLock { state in
            defer { state.nextWaiter &+= 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // The cancelled flag is set before the handler below runs, and both take the
                // lock: either the handler finds the waiter, or this sees the flag.
                let resumeNow = state.withLock { state -> Bool in
                    if state.version != seen || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
