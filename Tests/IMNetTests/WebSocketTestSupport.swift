import IMCore
import IMTestKit

@testable import IMNet


enum WebSocketTestSupport {
    static let oneMiB = 1 << 20

    /// Every event `stream` decodes to when fed as `split` says.
    static func decode(
        _ stream: [UInt8], split: InputSplit = .allAtOnce, role: WebSocketRole = .server,
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
        _ stream: [UInt8], split: InputSplit = .allAtOnce, role: WebSocketRole = .server,
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
