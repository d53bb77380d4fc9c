/// A WebSocket frame opcode (RFC 6455 §5.2): four bits. Any value can be represented (tests
/// build frames with reserved opcodes); the decoder refuses those that are not defined.
public struct WebSocketOpcode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    /// - Precondition: `rawValue < 16`.
    public init(rawValue: UInt8) {
        precondition(rawValue < 16, "a WebSocket opcode has four bits")
        self.rawValue = rawValue
    }

    public static let continuation = WebSocketOpcode(rawValue: 0x0)
    public static let text = WebSocketOpcode(rawValue: 0x1)
    public static let binary = WebSocketOpcode(rawValue: 0x2)
    public static let close = WebSocketOpcode(rawValue: 0x8)
    public static let ping = WebSocketOpcode(rawValue: 0x9)
    public static let pong = WebSocketOpcode(rawValue: 0xA)

    /// Control frames (close, ping, pong and the reserved 0xB–0xF) have the high bit set.
    public var isControl: Bool { rawValue & 0x8 != 0 }

    /// Whether RFC 6455 defines this opcode (0x3–0x7 and 0xB–0xF are reserved).
    public var isDefined: Bool {
        switch rawValue {
        case 0x0, 0x1, 0x2, 0x8, 0x9, 0xA: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .continuation: return "continuation"
        case .text: return "text"
        case .binary: return "binary"
        case .close: return "close"
        case .ping: return "ping"
        case .pong: return "pong"
        default: return "reserved opcode \(rawValue)"
        }
    }
}

/// Close status codes (RFC 6455 §7.4) and which of them may travel in a close frame.
///
/// imctl closes with: 1000 normal closure, 1001 going away (server shutdown), 1002 protocol
/// error (broken WebSocket framing), 1003 unsupported data (a message of the wrong kind for
/// the connection's mode), 1007 invalid payload (text that is not UTF-8), 1008 policy
/// violation (a well-formed message that is not a valid goim request, a refused token),
/// 1009 message too big, 1011 internal error.
public enum WebSocketCloseCode {
    public static let normalClosure: UInt16 = 1000
    public static let goingAway: UInt16 = 1001
    public static let protocolError: UInt16 = 1002
    public static let unsupportedData: UInt16 = 1003
    /// Reported locally when a close frame had no code; never sent.
    public static let noStatusReceived: UInt16 = 1005
    /// Reported locally when the connection dropped without a close frame; never sent.
    public static let abnormalClosure: UInt16 = 1006
    public static let invalidPayloadData: UInt16 = 1007
    public static let policyViolation: UInt16 = 1008
    public static let messageTooBig: UInt16 = 1009
    public static let mandatoryExtension: UInt16 = 1010
    public static let internalError: UInt16 = 1011

    /// Whether `code` may appear in a close frame: 1000–1003 and 1007–1014 (RFC 6455 plus the
    /// IANA-registered 1012 service restart, 1013 try again later, 1014 bad gateway), and
    /// 3000–4999 (libraries and applications). 1004, 1005, 1006, 1015, everything below 1000
    /// and the rest of 1016–2999 are refused.
    public static func isAllowedOnWire(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }
}

/// What a `WebSocketDecoder` produces: complete messages (fragments already joined) and
/// control frames. Payloads are unmasked.
public enum WebSocketEvent: Sendable, Equatable {
    /// A text message; its bytes are valid UTF-8.
    case text([UInt8])
    case binary([UInt8])
    /// A ping; answer with a pong carrying the same payload.
    case ping([UInt8])
    case pong([UInt8])
    /// The peer's close frame: `code` is nil when the frame had no payload (1005 locally).
    /// The decoder ignores everything after it.
    case close(code: UInt16?, reason: String)
}

/// Why a peer's frames were refused: close the connection with `closeCode` (sending a close
/// frame with it and `reason` when the connection can still take one).
public struct WebSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The close code to send (1002, 1007, 1009, ...; see `WebSocketCloseCode`).
    public var closeCode: UInt16
    /// A short reason, at most 123 bytes of UTF-8, safe to send in the close frame.
    public var reason: String

    public init(closeCode: UInt16, reason: String) {
        self.closeCode = closeCode
        self.reason = reason
    }

    public var description: String { "WebSocket error \(closeCode): \(reason)" }

    static func protocolError(_ reason: String) -> WebSocketError {
        WebSocketError(closeCode: WebSocketCloseCode.protocolError, reason: reason)
    }
}

/// Which end of a connection a codec works for. A server reads masked frames and writes
/// unmasked ones; a client does the opposite (RFC 6455 §5.1).
public enum WebSocketRole: Sendable {
    case server
    case client
}

/// XOR masking of payload bytes (RFC 6455 §5.3).
enum WebSocketMasking {
    /// Masks or unmasks `bytes` in place with `key` (big-endian: its first byte on the wire is
    /// the key's high byte), starting at key byte `phase` (the payload offset modulo 4).
    static func apply(key: UInt32, phase: Int, to bytes: UnsafeMutableRawBufferPointer) {
        let shift = UInt32(8 * (phase & 3))
        let rotated = shift == 0 ? key : key << shift | key >> (32 - shift)
        let keyBytes = rotated.bigEndian  // in memory: the key bytes in wire order from `phase`
        let word = UInt64(keyBytes) | UInt64(keyBytes) << 32

        var index = 0
        while bytes.count - index >= 8 {
            let masked = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ word
            bytes.storeBytes(of: masked, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < bytes.count {
            bytes[index] ^= UInt8(truncatingIfNeeded: rotated >> (24 - 8 * UInt32(index & 3)))
            index += 1
        }
    }
}
