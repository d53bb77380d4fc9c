import Foundation
import IMCore
import IMNet

/// `imctl client connect`: one blocking goim client (TCP, or WebSocket with `--ws`, over TLS
/// for a `wss://` URL) that prints the pushes it receives.
///
/// It authenticates (op 7, ver 1, seq 1, body = token) and waits for op 8, then heartbeats
/// (op 2, seq 2, 3, ...) every `--heartbeat` and prints each push (op 5) as one line on stdout,
/// written as soon as it arrives. It ends with exit 0 when stopped (SIGINT/SIGTERM, or the
/// injected `StopSignal`) and exit 1 when the server closes the connection.
enum ClientConnect {
    /// How long the server has to answer the auth frame (and to accept the connection).
    static let authTimeout: Duration = .seconds(10)

    /// Pushes larger than this end the session; the server's own outbound limit is far lower.
    static let maxPushBody = 16 << 20

    struct Options {
        var token: [UInt8]
        var address: SocketAddress
        var heartbeat: Duration
        var printsJSON: Bool
        /// `--ws`: the WebSocket URL to open instead of a TCP connection.
        var webSocket: WebSocketURL?
        /// `--binary`: WebSocket binary mode (TCP frames in binary messages), else JSON mode.
        var binaryMode = false
        /// `--tls-ca`: the CA file a `wss://` server is verified against; nil: the system's.
        var trustedCAFile: String?
    }

    static func run(_ context: CommandContext) throws(CommandError) -> Int32 {
        let options = try parseOptions(context)
        let tls = try tlsContext(options)
        let stop = context.stop ?? StopSignal.processSignals()

        let socket: ClientSocket
        do {
            socket = try ClientSocket.connect(
                host: options.address.host, port: UInt16(options.address.port),
                deadline: .now + authTimeout, stop: stop)
        } catch .interrupted {
            return IMCommandLine.ExitCode.success  // stopped before it was connected
        } catch {
            throw .failure(error.description)
        }

        guard let url = options.webSocket else {
            var session = ClientSession(
                socket: socket, stop: stop, options: options, context: context)
            return try session.run()
        }

        let stream: any ClientByteStream
        do {
            stream = try webSocketStream(over: socket, url: url, tls: tls)
        } catch .interrupted {
            return IMCommandLine.ExitCode.success  // stopped during the TLS handshake
        } catch {
            throw .failure(error.description)
        }
        var session = WebSocketClientSession(
            socket: stream, stop: stop, options: options, context: context)
        return try session.run()
    }

    /// For `wss://`: the client context, built before connecting so that a missing or bad
    /// `--tls-ca` file fails at once (exit 1, naming the file) without touching the network.
    private static func tlsContext(_ options: Options) throws(CommandError) -> TLSContext? {
        guard options.webSocket?.isSecure == true else { return nil }

        do {
            return try TLSContext(configuration: .client(trustedCAFile: options.trustedCAFile))
        } catch {
            throw .failure("\(error)")
        }
    }

    /// The socket itself for `ws://`; for `wss://`, TLS over it once the handshake is done.
    private static func webSocketStream(
        over socket: ClientSocket, url: WebSocketURL, tls: TLSContext?
    ) throws(SocketError) -> any ClientByteStream {
        guard let tls else { return socket }
        return try ClientTLSStream(
            over: socket, context: tls, serverName: url.host, deadline: .now + authTimeout)
    }

    private static func parseOptions(_ context: CommandContext) throws(CommandError) -> Options {
        let command = context.command
        if command.values["ws"] != nil, command.values["tcp"] != nil {
            throw context.usageError("--tcp and --ws cannot be used together")
        }
        if context.flag("binary"), command.values["ws"] == nil {
            throw context.usageError("--binary needs --ws")
        }

        guard let interval = try context.resolved("heartbeat") else {
            throw context.usageError("missing option '--heartbeat'")
        }
        guard let heartbeat = Duration(parsing: interval.text), heartbeat > .zero else {
            throw context.invalid("heartbeat", interval, "must be a duration above zero")
        }

        let token = try context.value("token") ?? ""
        var options = Options(
            token: Array(token.utf8), address: try serverAddress(context), heartbeat: heartbeat,
            printsJSON: context.flag("json"), binaryMode: context.flag("binary"))
        options.webSocket = try webSocketURL(context)
        options.trustedCAFile = try context.value("tls-ca")
        if options.trustedCAFile != nil, options.webSocket?.isSecure != true {
            throw context.usageError("--tls-ca needs a wss:// URL in --ws")
        }
        return options
    }

    /// The TCP address, or the WebSocket URL's host and port with `--ws`.
    private static func serverAddress(_ context: CommandContext) throws(CommandError)
        -> SocketAddress
    {
        if let url = try webSocketURL(context) {
            return SocketAddress(host: url.host, port: url.port)
        }
        guard let tcp = try context.resolved("tcp") else {
            throw context.usageError("missing option '--tcp'")
        }
        guard let address = try? SocketAddress(parsing: tcp.text) else {
            throw context.invalid("tcp", tcp, "expected HOST:PORT")
        }
        return address
    }

    /// `--ws` parsed (`ws://` or `wss://`); nil without it.
    private static func webSocketURL(_ context: CommandContext) throws(CommandError)
        -> WebSocketURL?
    {
        guard let ws = try context.resolved("ws") else { return nil }

        let url: WebSocketURL
        do {
            url = try WebSocketURL(ws.text)
        } catch {
            throw context.invalid("ws", ws, "expected ws:// or wss://HOST:PORT/sub")
        }
        return url
    }
}

/// The running connection: auth, then heartbeats and printing until stopped or closed.
private struct ClientSession {
    let socket: ClientSocket
    let stop: StopSignal

    private var state: ClientSessionState
    private var decoder = FrameDecoder(maxBodySize: ClientConnect.maxPushBody)
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    init(
        socket: ClientSocket, stop: StopSignal, options: ClientConnect.Options,
        context: CommandContext
    ) {
        self.socket = socket
        self.stop = stop
        self.state = ClientSessionState(options: options, context: context)
    }

    mutating func run() throws(CommandError) -> Int32 {
        try send(state.authFrame)
        while true {
            switch try socket.waitForEvent(stop: stop, deadline: state.deadline) {
            case .stopped:
                return IMCommandLine.ExitCode.success
            case .deadlinePassed:
                try send(state.heartbeatDue())
            case .readable:
                try readFrames()
            }
        }
    }

    private mutating func readFrames() throws(CommandError) {
        let closed = state.closedByServer
        guard let count = try socket.readChunk(into: &readBuffer, closedMessage: closed) else {
            return
        }
        for frame in try decode(count) { try state.handle(frame) }
    }

    private mutating func decode(_ count: Int) throws(CommandError) -> [Frame] {
        var frames: [Frame] = []
        do {
            try readBuffer.withUnsafeBytes { bytes in
                try decoder.decode(UnsafeRawBufferPointer(rebasing: bytes[..<count])) {
                    frames.append($0)
                }
            }
        } catch {
            throw .failure("invalid frame from the server: \(error)")
        }
        return frames
    }

    private func send(_ frame: Frame) throws(CommandError) {
        do {
            try socket.send(frame.encoded, deadline: .now + ClientConnect.authTimeout)
        } catch {
            throw .failure("connection lost: \(error.description)")
        }
    }
}

/// How `client connect` prints one push: a single line either way.
enum PushLine {
    /// Plain: the body as UTF-8 (invalid bytes replaced), line breaks written as `\n`, `\r`.
    /// JSON: `{"op":5,"ver":0,"seq":0,"body":"TEXT"}`, or `"body_base64"` in place of `"body"`
    /// when the body is not valid UTF-8.
    static func render(_ frame: Frame, json: Bool) -> String {
        guard json else {
            let text = String(decoding: frame.body, as: UTF8.self)
            return text.replacingOccurrences(of: "\n", with: "\\n")
                .replacingOccurrences(of: "\r", with: "\\r") + "\n"
        }

        let header = "{\"op\":\(frame.op),\"ver\":\(frame.ver),\"seq\":\(frame.seq),"
        if let text = String(validating: frame.body, as: UTF8.self) {
            return header + "\"body\":\(jsonString(text))}\n"
        }
        return header + "\"body_base64\":\"\(Base64.encode(frame.body))\"}\n"
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        var literal = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": literal += "\\\""
            case "\\": literal += "\\\\"
            case "\n": literal += "\\n"
            case "\r": literal += "\\r"
            case "\t": literal += "\\t"
            case _ where scalar.value < 0x20:
                literal += String(format: "\\u%04x", scalar.value)
            default:
                literal.unicodeScalars.append(scalar)
            }
        }
        return literal + "\""
    }
}
