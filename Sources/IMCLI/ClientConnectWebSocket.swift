import Foundation
import IMCore
import IMNet

/// `imctl client connect --ws URL`: the goim client over WebSocket.
///
/// Opens the URL (RFC 6455 handshake), then speaks goim in JSON mode (text messages, goim
/// v1.2; the default) or, with `--binary`, in binary mode (one TCP-layout frame per binary
/// message). Auth in JSON mode is `{"ver":1,"op":7,"seq":1,"body":TOKEN}` with the token
/// placed as raw JSON when it is JSON (`1001`, `{"mid":1003,"room":7}`), else as a JSON
/// string. Heartbeats, printing and exit codes are those of the TCP client; in JSON mode a
/// push body is printed as the server wrote it (JSON text, so a plain-text body shows as a
/// JSON string with its quotes). Pings are answered; a close frame is echoed and ends the
/// session (exit 1). For `wss://` the same session runs over a `ClientTLSStream`.
struct WebSocketClientSession {
    let socket: any ClientByteStream
    let stop: StopSignal
    let options: ClientConnect.Options
    let context: CommandContext

    private var decoder = WebSocketDecoder(
        role: .client, maxMessageSize: ClientConnect.maxPushBody)
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
    private var isAuthenticated = false
    private var nextSeq: Int32 = 2
    private var deadline: ContinuousClock.Instant

    init(
        socket: any ClientByteStream, stop: StopSignal, options: ClientConnect.Options,
        context: CommandContext
    ) {
        self.socket = socket
        self.stop = stop
        self.options = options
        self.context = context
        self.deadline = .now + ClientConnect.authTimeout
    }

    private var mode: GoimWebSocketMode { options.binaryMode ? .binary : .json }

    mutating func run() throws(CommandError) -> Int32 {
        let leftover = try openingHandshake()
        try decode(leftover)
        try send(Frame(ver: 1, op: Operation.auth, seq: 1, body: options.token))
        while true {
            switch try waitForEvent() {
            case .stopped:
                sendBestEffort(WebSocketEncoder.maskedClose(code: WebSocketCloseCode.goingAway))
                return IMCommandLine.ExitCode.success
            case .deadlinePassed:
                try deadlinePassed()
            case .readable:
                try readMessages()
            }
        }
    }

    // MARK: Handshake

    /// Sends the upgrade request and checks the answer; returns the bytes read after it.
    private mutating func openingHandshake() throws(CommandError) -> [UInt8] {
        let url = options.webSocket!
        let handshake = WebSocketClientHandshake(url: url)
        try sendRaw(handshake.requestBytes)

        var received: [UInt8] = []
        while true {
            if let length = received.withUnsafeBytes(WebSocketClientHandshake.responseHeadLength) {
                do {
                    try handshake.verify(responseHead: Array(received[..<length]))
                } catch {
                    throw .failure("WebSocket handshake failed: \(error)")
                }
                return Array(received[length...])
            }
            guard received.count < WebSocketClientHandshake.maxResponseHeadSize else {
                throw .failure("WebSocket handshake failed: response head too large")
            }
            received += try receiveSome()
        }
    }

    private mutating func receiveSome() throws(CommandError) -> [UInt8] {
        let count: Int
        do {
            count = try socket.receive(into: &readBuffer, deadline: deadline)
        } catch .interrupted {
            throw .failure("interrupted")
        } catch {
            throw .failure("WebSocket handshake failed: \(error.description)")
        }
        guard count > 0 else {
            throw .failure("WebSocket handshake failed: the server closed the connection")
        }
        return Array(readBuffer[..<count])
    }

    // MARK: Events

    private enum Event {
        case stopped, deadlinePassed, readable
    }

    private func waitForEvent() throws(CommandError) -> Event {
        var descriptors = [
            pollfd(fd: stop.fd, events: Int16(POLLIN), revents: 0),
            pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            let timeout = ClientSocket.milliseconds(until: deadline)
            guard timeout > 0 else { return .deadlinePassed }
            if socket.hasBufferedInput { return .readable }

            let ready = poll(&descriptors, 2, timeout)
            if ready < 0, errno != EINTR {
                throw .failure("poll: \(String(cString: strerror(errno)))")
            }
            if descriptors[0].revents != 0 { return .stopped }
            if descriptors[1].revents != 0 { return .readable }
        }
    }

    private mutating func deadlinePassed() throws(CommandError) {
        guard isAuthenticated else {
            let limit = ClientConnect.authTimeout.shortDescription
            throw .failure("no auth reply from the server within \(limit)")
        }
        try send(Frame(ver: 1, op: Operation.heartbeat, seq: nextSeq))
        nextSeq = nextSeq == Int32.max ? 1 : nextSeq + 1
        deadline = .now + options.heartbeat
    }

    private mutating func readMessages() throws(CommandError) {
        let result: ClientSocket.ReadResult
        do {
            result = try socket.readAvailable(into: &readBuffer)
        } catch {
            throw .failure("connection lost: \(error.description)")
        }

        switch result {
        case .wouldBlock:
            return
        case .endOfStream:
            throw .failure(
                isAuthenticated
                    ? "the server closed the connection"
                    : "authentication refused or connection closed")
        case .bytes(let count):
            try decode(Array(readBuffer[..<count]))
        }
    }

    private mutating func decode(_ bytes: [UInt8]) throws(CommandError) {
        var events: [WebSocketEvent] = []
        do {
            try decoder.decode(bytes) { events.append($0) }
        } catch {
            throw .failure("invalid WebSocket data from the server: \(error)")
        }
        for event in events { try handle(event) }
    }

    private mutating func handle(_ event: WebSocketEvent) throws(CommandError) {
        switch event {
        case .text(let message):
            let frames: [Frame]
            do {
                frames = try GoimJSON.decodeServerMessage(message)
            } catch {
                throw .failure("invalid goim JSON from the server: \(error)")
            }
            for frame in frames { try handle(frame) }
        case .binary(let message):
            let frame: Frame
            do {
                frame = try GoimWebSocket.request(fromBinary: message, maxBodySize: .max)
            } catch {
                throw .failure("invalid goim frame from the server: \(error)")
            }
            try handle(frame)
        case .ping(let payload):
            try sendRaw(WebSocketEncoder.maskedFrame(.pong, payload: payload))
        case .pong:
            break
        case .close(let code, let reason):
            sendBestEffort(WebSocketEncoder.maskedClose(code: code ?? 1000))
            let detail = code.map { " (code \($0)\(reason.isEmpty ? "" : ": \(reason)"))" } ?? ""
            throw .failure(
                (isAuthenticated
                    ? "the server closed the connection"
                    : "authentication refused or connection closed") + detail)
        }
    }

    private mutating func handle(_ frame: Frame) throws(CommandError) {
        guard isAuthenticated else {
            guard frame.op == Operation.authReply else {
                throw .failure("unexpected op \(frame.op) before the auth reply")
            }
            isAuthenticated = true
            deadline = .now + options.heartbeat
            context.stderr.write("authenticated\n")
            return
        }
        if frame.op == Operation.push {
            context.stdout.write(PushLine.render(frame, json: options.printsJSON))
        }
    }

    // MARK: Sending

    /// A request in the session's mode, masked as a client must.
    private func send(_ frame: Frame) throws(CommandError) {
        switch mode {
        case .binary:
            try sendRaw(WebSocketEncoder.maskedFrame(.binary, payload: frame.encoded))
        case .json:
            try sendRaw(WebSocketEncoder.maskedFrame(.text, payload: Self.jsonRequest(frame)))
        }
    }

    /// `{"ver":V,"op":O,"seq":S,"body":B}`: the body as raw JSON when it is JSON, else as a
    /// JSON string; no body for an empty one.
    static func jsonRequest(_ frame: Frame) -> [UInt8] {
        var text = #"{"ver":\#(frame.ver),"op":\#(frame.op),"seq":\#(frame.seq)"#
        if !frame.body.isEmpty {
            let body =
                GoimJSON.isValidJSON(frame.body)
                ? String(decoding: frame.body, as: UTF8.self)
                : PushLine.jsonString(String(decoding: frame.body, as: UTF8.self))
            text += #","body":\#(body)"#
        }
        return Array((text + "}").utf8)
    }

    private func sendRaw(_ bytes: [UInt8]) throws(CommandError) {
        do {
            try socket.send(bytes, deadline: .now + ClientConnect.authTimeout)
        } catch {
            throw .failure("connection lost: \(error.description)")
        }
    }

    private func sendBestEffort(_ bytes: [UInt8]) {
        try? socket.send(bytes, deadline: .now + .seconds(1))
    }
}
