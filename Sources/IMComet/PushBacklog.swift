import IMCore
import Synchronization

/// Bounds the pushes a comet has posted to its loops and the loops have not run yet.
///
/// Posting returns at once, so a caller faster than the loops (job at a high room rate, over
/// RPC or in process) would otherwise fill the loops' inboxes without limit. Past the bound a
/// push waits for a slot instead, which slows the caller down: job then waits for the comet
/// and its own room queue bounds what is held. While the loops are behind, every pass they run
/// takes all the pushes posted since the last one, so each client gets them in one write.
///
/// Slots go to waiters first come, first served. `open()` (at shutdown, when loops stop
/// running what was posted) lets every waiter and every later push through.
final class PushBacklog: Sendable {
    private struct State {
        var inFlight = 0
        /// Few: one per caller waiting (job's senders), so removing from the front is cheap.
        var waiters: [CheckedContinuation<Void, Never>] = []
        var isOpen = false
    }

    /// The most loop posts in flight.
    let limit: Int
    /// Pushes that had to wait for a slot.
    let waits: Counter
    private let state = Mutex(State())

    init(limit: Int, waits: Counter) {
        self.limit = max(1, limit)
        self.waits = waits
    }

    /// Loop posts taken and not yet released.
    var inFlight: Int { state.withLock { $0.inFlight } }

    /// Takes a slot for one loop post, waiting while all are taken.
    func admit() async {
        guard !tryAdmit() else { return }

        waits.increment()
        await withCheckedContinuation { waiter in
            let admitted = state.withLock { state in
                // Checked again: a slot may have been released since `tryAdmit`.
                guard state.isOpen || state.inFlight < limit else {
                    state.waiters.append(waiter)
                    return false
                }
                state.inFlight += 1
                return true
            }
            if admitted { waiter.resume() }
        }
    }

    /// Gives back the slot of a post the loop has run; the oldest waiter takes it over.
    func release() {
        let next = state.withLock { state in
            guard !state.waiters.isEmpty else {
                state.inFlight = max(0, state.inFlight - 1)
                return nil as CheckedContinuation<Void, Never>?
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }

    /// Stops bounding: every waiter goes on, and later pushes do not wait.
    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }

    private func tryAdmit() -> Bool {
        state.withLock { state in
            guard state.isOpen || state.inFlight < limit else { return false }
            state.inFlight += 1
            return true
        }
    }
}
