import Foundation
import IMCore

/// The commands that call logic's HTTP API: push, pushs, push-all, push-room, server-del and
/// count. Success prints `ok` (or the count table) and exits 0; `--json` prints logic's body
/// as received. Failure — logic unreachable, an HTTP error status, `ret` other than 1 — is
/// one `Error: <command> failed: <reason>` line and exit 1.
enum AdminCommands {
    /// Standard input larger than this is refused rather than buffered.
    static let maxMessageSize = 64 << 20

    static func push(_ context: CommandContext) throws(CommandError) -> Int32 {
        let uid = try integer(context, "uid", Int64.self)
        let message = try readMessage(context, argument: "message")
        return try call(context, "POST", "/1/push", query: [("uid", "\(uid)")], body: message)
    }

    static func pushs(_ context: CommandContext) throws(CommandError) -> Int32 {
        let uids = try userList(context)
        let message = try readMessage(context, argument: "json")
        guard isJSON(message) else {
            throw context.usageError("the message for pushs must be valid JSON")
        }

        // The JSON text goes in unchanged, so numbers and key order reach clients as written.
        let prefix = "{\"u\":[\(uids.map(String.init).joined(separator: ","))],\"m\":"
        let body = Array(prefix.utf8) + message + Array("}".utf8)
        return try call(context, "POST", "/1/pushs", body: body, contentType: "application/json")
    }

    static func pushAll(_ context: CommandContext) throws(CommandError) -> Int32 {
        let message = try readMessage(context, argument: "message")
        return try call(context, "POST", "/1/push/all", body: message)
    }

    static func pushRoom(_ context: CommandContext) throws(CommandError) -> Int32 {
        let room = try integer(context, "room", Int32.self)
        let message = try readMessage(context, argument: "message")
        var query = [("rid", "\(room)")]
        if context.flag("ensure") { query.append(("ensure", "true")) }
        return try call(context, "POST", "/1/push/room", query: query, body: message)
    }

    static func serverDelete(_ context: CommandContext) throws(CommandError) -> Int32 {
        let server = try integer(context, "server", Int32.self)
        return try call(context, "POST", "/1/server/del", query: [("server", "\(server)")])
    }

    static func count(_ context: CommandContext) throws(CommandError) -> Int32 {
        let type = context.command.argument("type") ?? "room"
        let reply = try request(context, "GET", "/1/count", query: [("type", type)], body: [])
        if context.flag("json") { return printVerbatim(reply.body, context) }

        let rows = (reply.decoded.data ?? []).map { row in
            (id: (type == "room" ? row.room : row.server) ?? 0, count: row.count ?? 0)
        }
        context.stdout.write(countTable(type == "room" ? "ROOM" : "SERVER", rows))
        return IMCommandLine.ExitCode.success
    }

    // MARK: - Inputs

    private static func isJSON(_ bytes: [UInt8]) -> Bool {
        let value = try? JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed)
        return value != nil
    }

    /// A non-negative integer option that must fit `T` (`--room` is an int32 in goim); logic
    /// refuses negative ids, so they are usage errors here.
    private static func integer<T: FixedWidthInteger>(
        _ context: CommandContext, _ long: String, _ type: T.Type
    ) throws(CommandError) -> T {
        guard let resolved = try context.resolved(long) else {
            throw context.usageError("missing required option '--\(long)'")
        }
        guard let value = T(resolved.text), value >= 0 else {
            throw context.invalid(long, resolved, "must be between 0 and \(T.max)")
        }
        return value
    }

    private static func userList(_ context: CommandContext) throws(CommandError) -> [Int64] {
        guard let resolved = try context.resolved("uids") else {
            throw context.usageError("missing required option '--uids'")
        }
        let words = resolved.text.split(separator: ",", omittingEmptySubsequences: false)
        let uids = words.compactMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
        guard !words.isEmpty, uids.count == words.count, uids.allSatisfy({ $0 >= 0 }) else {
            throw context.invalid("uids", resolved, "expected comma-separated user ids (0 or more)")
        }
        return uids
    }

    /// The message argument, or standard input for `-` or when the argument is left out and
    /// standard input is not a terminal. The bytes are passed through unchanged.
    static func readMessage(_ context: CommandContext, argument: String) throws(CommandError)
        -> [UInt8]
    {
        let given = context.command.argument(argument)
        if let given, given != "-" { return Array(given.utf8) }
        if given == nil, context.stdin is ReplCommandInput {
            throw context.usageError("missing <\(argument)>: give it on the line")
        }
        if given == nil, context.stdin.isTerminal {
            throw context.usageError(
                "missing <\(argument)>: give it as an argument, or '-' to read standard input")
        }

        do {
            return try context.stdin.readAll(limit: maxMessageSize)
        } catch {
            switch error {
            case .tooLarge(let limit):
                throw context.usageError("standard input is larger than \(ByteSize.format(limit))")
            case .readFailed(let code):
                throw .failure("cannot read standard input: \(String(cString: strerror(code)))")
            case .unavailable:
                throw context.usageError(
                    "standard input is not available here; give the <\(argument)> on the line")
            }
        }
    }

    // MARK: - Calling logic

    /// logic's JSON reply: `{"ret":1}`, `{"ret":65535,"msg":"..."}`, `{"data":[...],"ret":1}`.
    struct Reply: Decodable {
        var ret: Int?
        var msg: String?
        var data: [CountRow]?
    }

    /// One row of `/1/count`; goim names the fields after its Go struct.
    struct CountRow: Decodable {
        var room: Int64?
        var server: Int64?
        var count: Int64?

        enum CodingKeys: String, CodingKey {
            case room = "RoomId"
            case server = "Server"
            case count = "Count"
        }
    }

    /// Calls logic and prints `ok` (or the body, with `--json`).
    private static func call(
        _ context: CommandContext, _ method: String, _ path: String,
        query: [(String, String)] = [], body: [UInt8] = [],
        contentType: String = "application/octet-stream"
    ) throws(CommandError) -> Int32 {
        let reply = try request(context, method, path, query: query, body: body, contentType)
        if context.flag("json") { return printVerbatim(reply.body, context) }

        context.stdout.write("ok\n")
        return IMCommandLine.ExitCode.success
    }

    /// Sends the request and checks the answer: HTTP 2xx and `ret` 1.
    private static func request(
        _ context: CommandContext, _ method: String, _ path: String, query: [(String, String)],
        body: [UInt8], _ contentType: String? = nil
    ) throws(CommandError) -> (body: [UInt8], decoded: Reply) {
        let client = try logicClient(context)
        let what = context.command.path.joined(separator: " ") + " failed"
        let response: LogicHTTPClient.Response
        do {
            response = try client.send(
                method: method, path: path, query: query, body: body, contentType: contentType,
                stop: context.stop)
        } catch {
            throw .failure("\(what): \(error.description)")
        }
        return (response.body, try check(response, what: what))
    }

    private static func logicClient(_ context: CommandContext) throws(CommandError)
        -> LogicHTTPClient
    {
        guard let resolved = try context.resolved("logic") else {
            throw context.usageError("missing option '--logic'")
        }
        do {
            return try LogicHTTPClient(baseURL: resolved.text)
        } catch {
            throw context.invalid("logic", resolved, error.reason)
        }
    }

    private static func check(_ response: LogicHTTPClient.Response, what: String)
        throws(CommandError) -> Reply
    {
        let reply = try? JSONDecoder().decode(Reply.self, from: Data(response.body))
        guard (200..<300).contains(response.status) else {
            let reason = reply?.msg ?? summary(of: response.body)
            let detail = reason.isEmpty ? "" : ": \(reason)"
            throw .failure("\(what): HTTP \(response.status)\(detail)")
        }
        guard let reply, let ret = reply.ret else {
            let snippet = summary(of: response.body)
            let shown = snippet.isEmpty ? "empty body" : snippet
            throw .failure("\(what): unexpected answer from logic: \(shown)")
        }
        guard ret == 1 else {
            throw .failure("\(what): \(reply.msg ?? "logic answered ret \(ret)")")
        }
        return reply
    }

    /// The first line of a body, shortened, for an error message.
    private static func summary(of body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(200), as: UTF8.self)
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return line.trimmingCharacters(in: .whitespaces)
    }

    private static func printVerbatim(_ body: [UInt8], _ context: CommandContext) -> Int32 {
        context.stdout.write(body.last == UInt8(ascii: "\n") ? body : body + [UInt8(ascii: "\n")])
        return IMCommandLine.ExitCode.success
    }

    /// `ROOM  COUNT` then one row per id, ascending, columns aligned.
    static func countTable(_ idHeader: String, _ rows: [(id: Int64, count: Int64)]) -> String {
        let sorted = rows.sorted { $0.id < $1.id }
        let width = max(idHeader.count, sorted.map { "\($0.id)".count }.max() ?? 0)
        let pad = { (text: String) in text + String(repeating: " ", count: width - text.count) }

        let lines = ["\(pad(idHeader))  COUNT"] + sorted.map { "\(pad("\($0.id)"))  \($0.count)" }
        return lines.joined(separator: "\n") + "\n"
    }
}
