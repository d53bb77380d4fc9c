import IMCore

@testable import IMNet

/// How a WebSocket test cuts a byte stream into `decode` calls.
enum WebSocketSplit: Sendable, CustomStringConvertible {
    case allAtOnce
    case byteByByte
    case randomChunks(seed: UInt64)

    static let all: [WebSocketSplit] =
        [.allAtOnce, .byteByByte] + (1...6).map { .randomChunks(seed: $0) }

    func chunks(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var generator = WebSocketTestRandom(seed: seed)
        var chunks: [ArraySlice<UInt8>] = []
        var start = 0
        while start < bytes.count {
            let size = chunkSize(using: &generator)
            let end = min(bytes.count, start + size)
            chunks.append(bytes[start..<end])
            start = end
        }
        return chunks
    }

    private var seed: UInt64 {
        if case .randomChunks(let seed) = self { return seed }
        return 0
    }

    private func chunkSize(using generator: inout WebSocketTestRandom) -> Int {
        switch self {
        case .allAtOnce: return Int.max / 2
        case .byteByByte: return 1
        case .randomChunks: return Int.random(in: 1...23, using: &generator)
        }
    }

    var description: String {
        switch self {
        case .allAtOnce: return "all at once"
        case .byteByByte: return "byte by byte"
        case .randomChunks(let seed): return "random chunks (seed \(seed))"
        }
    }
}

/// SplitMix64, so random splits and payloads are reproducible.
struct WebSocketTestRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}

enum WebSocketTestSupport {
    static let oneMiB = 1 << 20

    /// Every event `stream` decodes to when fed as `split` says.
    static func decode(
        _ stream: [UInt8], split: WebSocketSplit = .allAtOnce, role: WebSocketRole = .server,
        maxMessageSize: Int = oneMiB
    ) throws -> [WebSocketEvent] {
        var decoder = WebSocketDecoder(role: role, maxMessageSize: maxMessageSize)
        var events: [WebSocketEvent] = []
        for chunk in split.chunks(stream) {
            try decoder.decode(chunk) { events.append($0) }
        }
        return events
    }

    /// The error decoding `stream` ends with (nil if it decodes cleanly).
    static func failure(
        _ stream: [UInt8], split: WebSocketSplit = .allAtOnce, role: WebSocketRole = .server,
        maxMessageSize: Int = oneMiB
    ) -> WebSocketError? {
        do {
            _ = try decode(stream, split: split, role: role, maxMessageSize: maxMessageSize)
            return nil
        } catch {
            return error as? WebSocketError
        }
    }

    /// A masked client frame with a fixed key (deterministic tests).
    static func clientFrame(
        _ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true
    ) -> [UInt8] {
        WebSocketEncoder.maskedFrame(opcode, payload: payload, fin: fin, maskKey: 0x37FA_213D)
    }

    static func clientFrame(_ opcode: WebSocketOpcode, _ text: String, fin: Bool = true) -> [UInt8]
    {
        clientFrame(opcode, Array(text.utf8), fin: fin)
    }

    /// The header of a masked frame announcing `length` bytes in the 64-bit form, with no
    /// payload after it.
    static func maskedHeader64(opcode: WebSocketOpcode, length: UInt64, fin: Bool = true) -> [UInt8]
    {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode.rawValue, 0x80 | 127]
        bytes += (0..<8).map { UInt8(truncatingIfNeeded: length >> (56 - 8 * UInt64($0))) }
        return bytes + [1, 2, 3, 4]
    }

    /// A close frame payload: the code big-endian, then `reason`.
    static func closePayload(_ code: UInt16, _ reason: [UInt8] = []) -> [UInt8] {
        [UInt8(code >> 8), UInt8(code & 0xFF)] + reason
    }
}
