import IMNet
import Synchronization

/// Carries a loop-confined object across threads so it can be handed back to its own loop.
///
/// `@unchecked Sendable`: the wrapped object is only dereferenced by closures that run on
/// `loop` (through `run`), so it is never touched by two threads; other threads only move the
/// reference around.
struct LoopBound<Value: AnyObject>: @unchecked Sendable {
    let loop: EventLoop
    private let value: Value

    init(_ value: Value, on loop: EventLoop) {
        self.value = value
        self.loop = loop
    }

    /// Runs `body` with the object on its loop.
    func run(_ body: @escaping @Sendable (Value) -> Void) {
        let box = self
        loop.execute { body(box.value) }
    }

    /// Runs `body` with the object on its loop and returns the result. After the loop has shut
    /// down (no thread is left to race with) `body` runs on the caller.
    func submit<Result: Sendable>(_ body: @escaping @Sendable (Value) -> Result) async -> Result {
        let box = self
        return await loop.submit { body(box.value) }
    }

    /// The object, for code already on its loop.
    func valueOnLoop() -> Value {
        precondition(loop.isCurrent, "loop-bound value used off its loop")
        return value
    }
}

/// A value delivered at most once, by a callback on any thread, that an async caller awaits
/// with a time limit (a loop that never runs the callback cannot hang the caller).
final class BoundedWait<Value: Sendable>: Sendable {
    private enum State {
        case empty
        case waiting(CheckedContinuation<Value?, Never>)
        case finished(Value?)
    }

    private let state = Mutex<State>(.empty)

    /// Delivers the value; later calls (or a call after the time limit) are ignored.
    func deliver(_ value: Value?) {
        let continuation: CheckedContinuation<Value?, Never>? = state.withLock { state in
            switch state {
            case .empty:
                state = .finished(value)
                return nil
            case .waiting(let continuation):
                state = .finished(nil)
                return continuation
            case .finished:
                return nil
            }
        }
        continuation?.resume(returning: value)
    }

    /// The delivered value, or nil when `timeout` passes first.
    func value(within timeout: Duration) async -> Value? {
        let timer = Task { [self] in
            try? await Task.sleep(for: timeout)
            deliver(nil)
        }
        defer { timer.cancel() }

        return await withCheckedContinuation { continuation in
            let early: Value?? = state.withLock { state in
                if case .finished(let value) = state { return .some(value) }
                state = .waiting(continuation)
                return nil
            }
            if let early { continuation.resume(returning: early) }
        }
    }
}
