import Foundation
import IMCore

/// A `POST /1/pushs` body, `{"u":[<user id>,...],"m":<any JSON value>}`, read without
/// re-serialising `m`: the message is the exact text the caller sent for it.
///
/// Decisions beyond goim: `u` must hold non-negative integer literals (`1.0`, `1e3`, `-1` and
/// strings are refused), a user named twice is pushed once, a repeated `u` or `m` key is
/// refused, keys match exactly (not Go's case-insensitive fallback), other keys are ignored,
/// and the whole body must be valid UTF-8 JSON.
struct PushsBody: Equatable {
    /// The user ids in the order first named, without duplicates.
    var users: [UserID]
    /// The raw text of `m`, byte for byte as sent.
    var message: [UInt8]

    static func parse(
        _ body: [UInt8], configuration: LogicConfiguration
    ) throws(LogicRequestError) -> PushsBody {
        guard String(validating: body, as: UTF8.self) != nil else {
            throw .badRequest("body is not valid UTF-8")
        }

        var parser = Parser(body, configuration: configuration)
        try parser.parseTopLevelObject()

        guard let users = parser.users else { throw .badRequest(#"missing "u" (the user ids)"#) }
        guard let range = parser.messageRange else {
            throw .badRequest(#"missing "m" (the message)"#)
        }
        return PushsBody(users: users, message: Array(body[range]))
    }
}

private struct Parser {
    private var scanner: JSONScanner
    private let maxUsers: Int
    private(set) var users: [UserID]?
    private(set) var messageRange: Range<Int>?

    init(_ body: [UInt8], configuration: LogicConfiguration) {
        scanner = JSONScanner(body, maxDepth: configuration.maxJSONDepth)
        maxUsers = configuration.maxUsersPerPush
    }

    mutating func parseTopLevelObject() throws(LogicRequestError) {
        guard scanner.consume(UInt8(ascii: "{")) else {
            throw .badRequest(#"body must be a JSON object {"u":[...],"m":...}"#)
        }
        if !scanner.consume(UInt8(ascii: "}")) {
            repeat {
                try parseMember()
            } while scanner.consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "}"))
        }

        scanner.skipWhitespace()
        guard scanner.isAtEnd else { throw syntaxError("unexpected text after the object") }
    }

    private mutating func parseMember() throws(LogicRequestError) {
        scanner.skipWhitespace()
        let name = try memberName(readString())
        try expect(UInt8(ascii: ":"))

        switch name {
        case "u":
            guard users == nil else { throw .badRequest(#"key "u" appears twice"#) }
            users = try parseUsers()
        case "m":
            guard messageRange == nil else { throw .badRequest(#"key "m" appears twice"#) }
            messageRange = try skipValue()
        default:
            _ = try skipValue()
        }
    }

    private mutating func parseUsers() throws(LogicRequestError) -> [UserID] {
        guard scanner.consume(UInt8(ascii: "[")) else {
            throw .badRequest(#""u" must be an array of user ids"#)
        }
        if scanner.consume(UInt8(ascii: "]")) { return [] }

        var users: [UserID] = []
        var seen = Set<UserID>()
        var named = 0
        repeat {
            named += 1
            guard named <= maxUsers else { throw tooManyUsers() }
            let user = try parseUser()
            if seen.insert(user).inserted { users.append(user) }
        } while scanner.consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"))
        return users
    }

    private mutating func parseUser() throws(LogicRequestError) -> UserID {
        scanner.skipWhitespace()
        guard let first = scanner.current,
            first == UInt8(ascii: "-") || (0x30...0x39).contains(first)
        else { throw .badRequest(#""u" must hold only user ids (non-negative integers)"#) }

        let range = try readNumber()
        let text = String(decoding: scanner.bytes[range], as: UTF8.self)
        guard let user = UserID(text) else {
            throw .badRequest(
                "user id \(LogicJSON.excerpt(text)) is not a whole number that fits Int64")
        }
        guard user >= 0 else { throw .badRequest("user id \(text) is negative") }
        return user
    }

    /// The decoded text of a key literal (quotes included in `range`).
    private func memberName(_ range: Range<Int>) -> String {
        let literal = scanner.bytes[range]
        guard literal.contains(UInt8(ascii: "\\")) else {
            return String(decoding: literal.dropFirst().dropLast(), as: UTF8.self)
        }
        // Escaped keys are rare enough to hand to Foundation; the scanner already checked them.
        let decoded = try? JSONSerialization.jsonObject(
            with: Data(literal), options: .fragmentsAllowed)
        return decoded as? String ?? ""
    }

    private func tooManyUsers() -> LogicRequestError {
        LogicRequestError(
            status: 413, #""u" names more than \#(maxUsers) users; split the request"#)
    }

    private func syntaxError(_ reason: String) -> LogicRequestError {
        .badRequest(scanner.error(reason).description)
    }

    // Scanner steps with a syntax error turned into a 400.

    private mutating func expect(_ byte: UInt8) throws(LogicRequestError) {
        do { try scanner.expect(byte) } catch { throw .badRequest(error.description) }
    }

    private mutating func readString() throws(LogicRequestError) -> Range<Int> {
        do { return try scanner.readString() } catch { throw .badRequest(error.description) }
    }

    private mutating func readNumber() throws(LogicRequestError) -> Range<Int> {
        do { return try scanner.readNumber() } catch { throw .badRequest(error.description) }
    }

    private mutating func skipValue() throws(LogicRequestError) -> Range<Int> {
        do { return try scanner.skipValue(depth: 1) } catch { throw .badRequest(error.description) }
    }
}
