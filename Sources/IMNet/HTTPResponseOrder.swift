import IMCore

/// The reorder buffer of one connection: handlers finish in any order, responses leave in
/// request order (pipelining).
///
/// Each request gets a sequence number; a finished response waits in its slot until every
/// earlier one has been handed out. A `100 Continue` is sequenced the same way, so it cannot
/// overtake the answers to earlier requests. Holds at most one slot per request in flight.
struct HTTPResponseOrder {
    private struct Slot {
        var continueDue = false
        var response: ByteChunk?
        var closesConnection = false
    }

    private var nextSequence = 0
    private var nextToWrite = 0
    private var slots: [Int: Slot] = [:]

    /// Requests numbered and not yet handed out.
    var inFlight: Int { nextSequence - nextToWrite }

    /// Numbers the next request.
    mutating func reserve() -> Int {
        defer { nextSequence += 1 }
        return nextSequence
    }

    /// `sequence` wants a `100 Continue` before its final response.
    mutating func requestContinue(for sequence: Int) {
        slots[sequence, default: Slot()].continueDue = true
    }

    /// The final response of `sequence` is ready.
    mutating func complete(_ sequence: Int, with response: ByteChunk, closesConnection: Bool) {
        slots[sequence, default: Slot()].response = response
        slots[sequence]?.closesConnection = closesConnection
    }

    /// Hands out, in order, everything that may be written now. Returns true when a response
    /// that closes the connection was handed out (nothing after it ever is).
    mutating func drain(_ write: (ByteChunk) -> Void) -> Bool {
        while var slot = slots[nextToWrite] {
            if slot.continueDue {
                write(HTTPResponseWriter.continueResponse)
                slot.continueDue = false
                slots[nextToWrite] = slot
            }
            guard let response = slot.response else { return false }

            write(response)
            slots[nextToWrite] = nil
            nextToWrite += 1
            if slot.closesConnection { return true }
        }
        return false
    }

    /// Forgets every pending response (the connection closed).
    mutating func removeAll() {
        slots = [:]
        nextToWrite = nextSequence
    }
}
