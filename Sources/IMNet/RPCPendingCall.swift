import Synchronization

/// One call from the moment `RPCClient.call` makes it until it is answered, fails or times out.
///
/// The calling task creates it and hands it to the client's loop, which from then on owns
/// everything but the completion: the seq, the connection it was sent on, and the timer links
/// (the call is its own timeout timer). Completion is first-wins and may happen on any thread:
/// a reply or a timeout on the loop, a cancellation on the cancelling thread.
///
/// `@unchecked Sendable`: the loop-owned fields are touched only on the client's loop after the
/// hand-over (and, once the loop is gone, not at all); the only state other threads touch is
/// `completion`, behind a `Mutex`.
final class RPCPendingCall: TimerWheelEntry, @unchecked Sendable {
    let method: Int32
    let timeoutMillis: Int
    /// A ping sent by the connection itself to check that the server still answers.
    let isProbe: Bool

    // Loop-owned after the hand-over.
    /// The request payload, until it is encoded into the outbound queue.
    var payload: [UInt8]
    var seq: Int32 = 0
    /// The connection's received-frame count when the call was sent: unchanged at the timeout
    /// means the server sent nothing at all meanwhile.
    var framesReceivedAtSend = 0
    /// The connection holding the call; cleared when the call leaves it.
    var connection: RPCClientConnection?

    private let completion = Mutex(Completion.waiting(nil))

    private enum Completion {
        case waiting(CheckedContinuation<[UInt8], any Error>?)
        case finished(Result<[UInt8], any Error>)
    }

    init(method: Int32, payload: [UInt8], timeoutMillis: Int, isProbe: Bool = false) {
        self.method = method
        self.payload = payload
        self.timeoutMillis = timeoutMillis
        self.isProbe = isProbe
    }

    override func timerExpired() {
        connection?.callTimedOut(self)
    }

    /// Whether the outcome is known (answered, failed or cancelled).
    var isFinished: Bool {
        completion.withLock {
            if case .finished = $0 { return true }
            return false
        }
    }

    /// Completes the call with `result` unless it already completed; whether this did.
    @discardableResult
    func finish(_ result: Result<[UInt8], any Error>) -> Bool {
        let (won, waiter) = completion.withLock {
            state -> (Bool, CheckedContinuation<[UInt8], any Error>?) in
            guard case .waiting(let waiter) = state else { return (false, nil) }
            state = .finished(result)
            return (true, waiter)
        }
        waiter?.resume(with: result)
        return won
    }

    /// Waits for the outcome (at once if it is already known).
    func outcome() async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { continuation in
            let known = completion.withLock { state -> Result<[UInt8], any Error>? in
                switch state {
                case .finished(let result):
                    return result
                case .waiting:
                    state = .waiting(continuation)
                    return nil
                }
            }
            if let known { continuation.resume(with: known) }
        }
    }
}
