/// Who a connection is, as decided from its auth token.
public struct Identity: Sendable, Equatable {
    public var user: UserID
    /// The room the connection joins; nil for none.
    public var room: RoomID?

    public init(user: UserID, room: RoomID?) {
        self.user = user
        self.room = room
    }
}

/// Turns the body of a client's auth frame (op 7) into an identity, or refuses it.
///
/// Called by logic once per connection, from any thread. The token is untrusted client input:
/// an implementation must refuse (return nil) rather than trap on anything it cannot read.
public protocol Authenticator: Sendable {
    /// The identity `token` stands for, or nil to refuse the connection.
    func authenticate(token: [UInt8]) -> Identity?
}

/// The default authenticator: no secret, the client says who it is (goim's behaviour, for
/// development and benchmarks).
///
/// Accepted tokens, as exact bytes (no surrounding whitespace for the decimal form):
/// - plain ASCII decimal digits, `1001` → user 1001 in room 1 (goim's rule);
/// - a JSON object `{"mid":1003,"room":7}` → user 1003 in room 7. `mid` is required; `room`
///   is optional (absent or `null` → no room); other keys are ignored.
///
/// Refused: anything else, including signs (`+1`, `-1`), a JSON string (`"123"`, whose quotes
/// are part of the token as WebSocket clients send it), non-integer numbers (`1.5`, `1.0`,
/// `1e3`), booleans, negative ids, a user id outside Int64 or a room outside Int32, and tokens
/// longer than `maxTokenLength` bytes. goim instead made every unreadable token user 0.
public struct DefaultAuthenticator: Authenticator {
    /// Longest accepted token, in bytes.
    public static let maxTokenLength = 1024

    /// The room a decimal token joins (goim's debug default).
    public static let decimalTokenRoom: RoomID = 1

    public init() {}

    public func authenticate(token: [UInt8]) -> Identity? {
        guard !token.isEmpty, token.count <= DefaultAuthenticator.maxTokenLength else { return nil }

        if token[0] == UInt8(ascii: "{") || isJSONWhitespace(token[0]) {
            return token.withUnsafeBytes { Self.identity(fromJSON: $0) }
        }
        return Self.decimalUser(token).map {
            Identity(user: $0, room: DefaultAuthenticator.decimalTokenRoom)
        }
    }

    /// The value of a token made only of ASCII digits, if it fits in `UserID`.
    private static func decimalUser(_ token: [UInt8]) -> UserID? {
        var value: UserID = 0
        for byte in token {
            let digit = byte &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }

            let (times10, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (next, overflowB) = times10.addingReportingOverflow(UserID(digit))
            guard !overflowA, !overflowB else { return nil }
            value = next
        }
        return value
    }

    private static func identity(fromJSON token: UnsafeRawBufferPointer) -> Identity? {
        var scanner = JSONScanner(token)
        var user: UserID?
        var room: RoomID?
        do {
            try scanner.readObject { scanner, key in
                try readMember(key, &scanner, user: &user, room: &room)
            }
            try scanner.expectEnd()
        } catch {
            return nil
        }

        guard let user, user >= 0, room.map({ $0 >= 0 }) ?? true else { return nil }
        return Identity(user: user, room: room)
    }

    private static func readMember(
        _ key: UnsafeRawBufferPointer, _ scanner: inout JSONScanner,
        user: inout UserID?, room: inout RoomID?
    ) throws {
        if key.elementsEqual("mid".utf8) {
            user = try scanner.readInteger(UserID.self)
        } else if key.elementsEqual("room".utf8) {
            room = try scanner.consumeNull() ? nil : scanner.readInteger(RoomID.self)
        } else {
            try scanner.skipValue()
        }
    }

    private func isJSONWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}
