import Foundation
import IMCore
import IMNet
import IMTestKit

@testable import IMComet

/// Runs `body` against a started comet that also listens for WebSocket clients; the second
/// argument is the WebSocket port.
func withWebSocketComet(
    _ configuration: CometConfiguration = CometConfiguration(),
    logic: FakeLogic = FakeLogic(), loopCount: Int = 2,
    _ body: (CometHarness, UInt16) async throws -> Void
) async throws {
    try await withComet(configuration, logic: logic, loopCount: loopCount) { harness in
        let address = try harness.comet.listenWebSocket(host: "127.0.0.1", port: 0)
        try await body(harness, UInt16(address.port))
    }
}

/// `GoimWebSocketTestClient` with its blocking calls moved off the cooperative thread pool
/// (the comet needs that pool to ask the fake logic).
struct WSClient: Sendable {
    let raw: GoimWebSocketTestClient

    /// A client that completed the opening handshake on `/sub`.
    static func open(_ port: UInt16) async throws -> WSClient {
        WSClient(raw: try await offPool { try GoimWebSocketTestClient.open(port: port) })
    }

    /// A connected client that has sent nothing yet.
    static func connect(_ port: UInt16) async throws -> WSClient {
        WSClient(raw: try await offPool { try GoimWebSocketTestClient(port: port) })
    }

    /// A JSON-mode client authenticated with `token` (raw JSON).
    static func json(_ port: UInt16, token: String) async throws -> WSClient {
        let client = try await open(port)
        _ = try await offPool { [raw = client.raw] in try raw.authenticateJSON(token) }
        return client
    }

    /// A binary-mode client authenticated with `token`.
    static func binary(_ port: UInt16, token: String) async throws -> WSClient {
        let client = try await open(port)
        _ = try await offPool { [raw = client.raw] in try raw.authenticateBinary(token) }
        return client
    }

    func upgrade(path: String) async throws -> (status: Int, head: String) {
        try await offPool { [raw] in try raw.upgrade(path: path) }
    }

    func httpHead() async throws -> String {
        String(decoding: try await offPool { [raw] in try raw.readHTTPHead() }, as: UTF8.self)
    }

    func sendRaw(_ bytes: [UInt8]) async {
        _ = await offPoolSafely { [raw] in raw.sendRaw(bytes) }
    }

    func send(_ opcode: WebSocketOpcode, _ payload: [UInt8]) async {
        _ = await offPoolSafely { [raw] in raw.send(opcode, payload) }
    }

    func sendText(_ text: String) async {
        await send(.text, Array(text.utf8))
    }

    func sendBinary(_ frame: Frame) async {
        await send(.binary, frame.encoded)
    }

    func event(timeout: TimeInterval? = nil) async throws -> WebSocketEvent? {
        try await offPool { [raw] in try raw.readEvent(timeout: timeout) }
    }

    func text(timeout: TimeInterval? = nil) async throws -> String? {
        try await offPool { [raw] in try raw.readText(timeout: timeout) }
    }

    func jsonFrames() async throws -> [Frame] {
        try await offPool { [raw] in try raw.readJSONFrames() }
    }

    func binaryFrame() async throws -> Frame? {
        try await offPool { [raw] in try raw.readBinaryFrame() }
    }

    /// The code of the close frame the server sends (`.some(nil)`: an empty close frame).
    func closeCode() async -> UInt16?? {
        await offPoolSafely { [raw] in raw.closeCode() }
    }

    func isClosedByPeer(within seconds: TimeInterval = 5) async -> Bool {
        await offPoolSafely { [raw] in raw.isClosedByPeer(within: seconds) }
    }

    /// Whether nothing arrives for `seconds` and the connection stays open.
    func staysQuiet(for seconds: TimeInterval = 0.3) async throws -> Bool {
        try await event(timeout: seconds) == nil
    }
}

/// A hand-made upgrade request; `headers` replace the defaults.
func upgradeRequest(
    method: String = "GET", path: String = "/sub", headers: [String: String?] = [:]
) -> [UInt8] {
    var fields: [String: String?] = [
        "Host": "127.0.0.1", "Upgrade": "websocket", "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13",
    ]
    fields.merge(headers) { $1 }
    var text = "\(method) \(path) HTTP/1.1\r\n"
    for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
        if let value { text += "\(name): \(value)\r\n" }
    }
    return Array((text + "\r\n").utf8)
}
