import Foundation
import IMCore
import IMNet

/// What `imctl client simulate` was asked to do, checked: every problem here is a usage error
/// (exit 64) found before a socket is opened.
struct SimulateOptions: Sendable {
    /// How the clients talk to comet.
    enum Transport: Sendable, Equatable {
        case tcp
        /// `ws://`, goim v1.2 JSON text messages.
        case webSocketJSON
        /// `ws://`, one TCP-layout frame per binary message.
        case webSocketBinary
    }

    var clients: Int
    var host: String
    var port: Int
    var transport: Transport
    /// The request target of the WebSocket upgrade (`/sub`); unused over TCP.
    var webSocketTarget = "/sub"
    /// The `Host` header of the WebSocket upgrade.
    var webSocketHost = ""
    var uidStart: Int64 = 1
    var room: Int32?
    var heartbeat: Duration = .seconds(30)
    /// Connects per second; nil: as fast as the in-flight bound allows.
    var ramp: Int?
    var duration: Duration?
    var pushRate: Int?
    var logicURL = "http://127.0.0.1:7172"
    var printsJSON = false
    /// `--tcp X` or `--ws URL [--binary]` as given, for the worker processes' command lines.
    var targetArguments: [String] = []

    /// The largest client count accepted (a typo guard, far beyond one machine).
    static let maxClients = 10_000_000
    /// The largest --push-rate accepted.
    static let maxPushRate = 100_000

    /// The token client `uid` authenticates with: `{"mid":UID,"room":R}` with a room, else the
    /// decimal uid (which goim puts in room 1).
    func token(uid: Int64) -> [UInt8] {
        guard let room else { return Array(String(uid).utf8) }
        return Array("{\"mid\":\(uid),\"room\":\(room)}".utf8)
    }

    /// Whether the target is a loopback address, so workers may use 127.0.0.x source addresses.
    var targetIsLoopback: Bool {
        host == "localhost" || host.hasPrefix("127.")
    }
}

extension SimulateOptions {
    /// Reads and checks the command line.
    static func parse(_ context: CommandContext) throws(CommandError) -> SimulateOptions {
        let command = context.command
        if command.values["ws"] != nil, command.values["tcp"] != nil {
            throw context.usageError("--tcp and --ws cannot be used together")
        }
        if context.flag("binary"), command.values["ws"] == nil {
            throw context.usageError("--binary needs --ws")
        }

        let clients = try integer(context, "clients", in: 1...maxClients) ?? 0
        var options = SimulateOptions(
            clients: clients, host: "", port: 0, transport: .tcp,
            printsJSON: context.flag("json"))
        try readTarget(context, into: &options)

        if let uidStart = try integer(context, "uid-start", in: 0...Int(Int64.max)) {
            options.uidStart = Int64(uidStart)
        }
        guard options.uidStart <= Int64.max - Int64(clients) + 1 else {
            throw context.usageError("--uid-start plus --clients goes past the largest user id")
        }
        options.room = try integer(context, "room", in: 0...Int(Int32.max)).map { Int32($0) }
        options.heartbeat = try duration(context, "heartbeat") ?? options.heartbeat
        options.ramp = try integer(context, "ramp", in: 1...1_000_000)
        options.duration = try duration(context, "duration")
        options.pushRate = try integer(context, "push-rate", in: 1...maxPushRate)
        if options.pushRate != nil, options.room == nil {
            throw context.usageError("--push-rate needs --room (the pushes go to that room)")
        }
        options.logicURL = try logicURL(context)
        return options
    }

    private static func readTarget(
        _ context: CommandContext, into options: inout SimulateOptions
    ) throws(CommandError) {
        if let ws = try context.resolved("ws") {
            let url: WebSocketURL
            do {
                url = try WebSocketURL(ws.text)
            } catch {
                throw context.invalid("ws", ws, "expected ws://HOST:PORT/sub")
            }
            guard !url.isSecure else {
                throw context.invalid("ws", ws, "wss:// is not supported by client simulate")
            }
            options.host = url.host
            options.port = url.port
            options.webSocketTarget = url.requestTarget
            options.webSocketHost = url.hostHeader
            options.transport = context.flag("binary") ? .webSocketBinary : .webSocketJSON
            options.targetArguments =
                ["--ws", ws.text] + (context.flag("binary") ? ["--binary"] : [])
            return
        }

        guard let tcp = try context.resolved("tcp") else {
            throw context.usageError("missing option '--tcp'")
        }
        guard let address = try? SocketAddress(parsing: tcp.text), address.port > 0 else {
            throw context.invalid("tcp", tcp, "expected HOST:PORT with a port from 1 to 65535")
        }
        options.host = address.host
        options.port = address.port
        options.targetArguments = ["--tcp", tcp.text]
    }

    private static func integer(
        _ context: CommandContext, _ long: String, in range: ClosedRange<Int>
    ) throws(CommandError) -> Int? {
        guard let resolved = try context.resolved(long) else {
            if context.command.spec.option(long: long)?.isRequired == true {
                throw context.usageError("missing required option '--\(long)'")
            }
            return nil
        }
        guard let value = Int(resolved.text), range.contains(value) else {
            throw context.invalid(
                long, resolved, "must be a whole number from \(range.lowerBound) to "
                    + "\(range.upperBound)")
        }
        return value
    }

    private static func duration(_ context: CommandContext, _ long: String)
        throws(CommandError) -> Duration?
    {
        guard let resolved = try context.resolved(long) else { return nil }
        guard let value = Duration(parsing: resolved.text), value > .zero else {
            throw context.invalid(long, resolved, "must be a duration above zero")
        }
        return value
    }

    private static func logicURL(_ context: CommandContext) throws(CommandError) -> String {
        guard let resolved = try context.resolved("logic") else { return "http://127.0.0.1:7172" }
        do {
            _ = try LogicHTTPClient(baseURL: resolved.text)
        } catch {
            throw context.invalid("logic", resolved, error.reason)
        }
        return resolved.text
    }
}
