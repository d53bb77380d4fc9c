import IMCore
import IMNet
import Synchronization

/// The wire formats a comet writes pushes in.
enum WireFormat: Int, Sendable, CaseIterable {
    /// goim TCP frames, back to back.
    case tcp
    /// One binary WebSocket message per TCP-layout frame.
    case webSocketBinary
    /// One text WebSocket message holding a goim v1.2 JSON array of every body.
    case webSocketJSON
}

/// One push call's bodies and their encodings, each made at most once, on first use, and
/// shared by every receiver of that format on every loop (design.md §4.2).
///
/// Created once per `push`/`broadcast`/`broadcastRoom` call and handed to every loop. A format
/// nobody receives is never encoded (a comet without WebSocket clients only ever builds the
/// TCP chunk). The first loop to need a format encodes it under the lock; the others wait for
/// it and reuse it, so each format is encoded exactly once per call. A loop asks once per
/// format per call (`DeliveryWalk` keeps what it got), so the lock is taken a few times per
/// push, never per receiver.
final class PushEncodings: Sendable {
    /// The push bodies, in order.
    let bodies: [[UInt8]]

    private let chunks = Mutex<[ByteChunk?]>(
        Array(repeating: nil, count: WireFormat.allCases.count))

    init(_ bodies: [[UInt8]]) {
        self.bodies = bodies
    }

    /// The bodies encoded for `format`, encoding them now if no receiver has asked before.
    func chunk(for format: WireFormat) -> ByteChunk {
        chunks.withLock { chunks in
            if let chunk = chunks[format.rawValue] { return chunk }

            let chunk = Self.encode(bodies, as: format)
            chunks[format.rawValue] = chunk
            return chunk
        }
    }

    /// How many formats have been encoded so far (tests).
    var encodedFormatCount: Int {
        chunks.withLock { $0.count { $0 != nil } }
    }

    private static func encode(_ bodies: [[UInt8]], as format: WireFormat) -> ByteChunk {
        switch format {
        case .tcp: return Frame.pushBatchChunk(bodies)
        case .webSocketBinary: return GoimWebSocket.pushes(bodies, mode: .binary)
        case .webSocketJSON: return GoimWebSocket.pushes(bodies, mode: .json)
        }
    }
}
