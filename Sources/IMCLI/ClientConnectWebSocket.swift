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

    private var state: ClientSessionState
    private var decoder = WebSocketDecoder(
        role: .client, maxMessageSize: ClientConnect.maxPushBody)
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    init(
        socket: any ClientByteStream, stop: StopSignal, options: ClientConnect.Options,
        context: CommandContext
    ) {
        self.socket = socket
        self.stop = stop
        self.state = ClientSessionState(options: options, context: context)
    }

    private var mode: GoimWebSocketMode { state.options.binaryMode ? .binary : .json }

    mutating func run() throws(CommandError) -> Int32 {
        let leftover = try openingHandshake()
        try decode(leftover)
        try send(state.authFrame)
        while true {
            switch try socket.waitForEvent(stop: stop, deadline: state.deadline) {
            case .stopped:
                sendBestEffort(WebSocketEncoder.maskedClose(code: WebSocketCloseCode.goingAway))
                return IMCommandLine.ExitCode.success
            case .deadlinePassed:
                try send(state.heartbeatDue())
            case .readable:
                try readMessages()
            }
        }
    }

    // MARK: Handshake

    /// Sends the upgrade request and checks the answer; returns the bytes read after it.
    private mutating func openingHandshake() throws(CommandError) -> [UInt8] {
        let url = state.options.webSocket!
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
            count = try socket.receive(into: &readBuffer, deadline: state.deadline)
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

    // MARK: Receiving

    private mutating func readMessages() throws(CommandError) {
        let closed = state.closedByServer
        guard let count = try socket.readChunk(into: &readBuffer, closedMessage: closed) else {
            return
        }
        try decode(Array(readBuffer[..<count]))
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
            for frame in frames { try state.handle(frame) }
        case .binary(let message):
            let frame: Frame
            do {
                frame = try GoimWebSocket.request(fromBinary: message, maxBodySize: .max)
            } catch {
                throw .failure("invalid goim frame from the server: \(error)")
            }
            try state.handle(frame)
        case .ping(let payload):
            try sendRaw(WebSocketEncoder.maskedFrame(.pong, payload: payload))
        case .pong:
            break
        case .close(let code, let reason):
            sendBestEffort(WebSocketEncoder.maskedClose(code: code ?? 1000))
            let detail = code.map { " (code \($0)\(reason.isEmpty ? "" : ": \(reason)"))" } ?? ""
            throw .failure(state.closedByServer + detail)
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
