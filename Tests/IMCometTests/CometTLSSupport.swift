import Foundation
import Glibc
import IMCore
import IMNet
import IMTestKit

/// A blocking loopback socket (2 s timeouts) with a client TLS session, for one test thread at
/// a time; every call gives up after a few seconds.
///
/// `@unchecked Sendable`: used by one thread at a time (each `offPool` call returns before the
/// test hands it to the next).
final class BlockingTLSClient: @unchecked Sendable {
    let fd: Int32
    let session: TLSSession
    private var frames = FrameDecoder(maxBodySize: 1 << 20)
    private var webSocket = WebSocketDecoder(role: .client, maxMessageSize: 1 << 20)
    private var receivedFrames: [Frame] = []
    private var receivedEvents: [WebSocketEvent] = []
    private static let patience: Duration = .seconds(5)

    /// Connects to 127.0.0.1:`port` and completes the handshake, verifying `localhost`.
    init(port: Int, context: TLSContext) throws {
        fd = try Self.connect(port: port)
        do {
            session = try TLSSession(context: context, fd: fd, serverName: "localhost")
            try Self.retry { session.handshake() == .done }
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    deinit {
        Glibc.close(fd)
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        try Self.retry {
            if case .wrote(let count) = bytes[offset...].withUnsafeBytes({ session.write($0) }) {
                offset += count
            }
            return offset == bytes.count
        }
    }

    /// The next goim frame.
    func readFrame() throws -> Frame {
        try Self.retry {
            if receivedFrames.isEmpty {
                let bytes = try receive()
                try bytes.withUnsafeBytes { input in
                    try frames.decode(input) { receivedFrames.append($0) }
                }
            }
            return !receivedFrames.isEmpty
        }
        return receivedFrames.removeFirst()
    }

    /// Sends the upgrade request for `/sub` and reads the 101 head (no frames follow yet).
    func upgradeToWebSocket(port: Int) throws {
        let url = try WebSocketURL("wss://localhost:\(port)/sub")
        let handshake = WebSocketClientHandshake(url: url)
        try send(handshake.requestBytes)
        var head: [UInt8] = []
        try Self.retry {
            head += try receive()
            return head.withUnsafeBytes(WebSocketClientHandshake.responseHeadLength) != nil
        }
        try handshake.verify(responseHead: head)
    }

    /// The next WebSocket text message.
    func readText() throws -> String {
        var text: String?
        try Self.retry {
            while text == nil, !receivedEvents.isEmpty {
                if case .text(let bytes) = receivedEvents.removeFirst() {
                    text = String(decoding: bytes, as: UTF8.self)
                }
            }
            if text == nil {
                let bytes = try receive()
                try webSocket.decode(bytes) { receivedEvents.append($0) }
            }
            return text != nil
        }
        return text ?? ""
    }

    /// Decrypted bytes, possibly none when the read timed out.
    private func receive() throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        let result = buffer.withUnsafeMutableBytes { session.read(into: $0) }
        switch result {
        case .bytes(let count): return Array(buffer[..<count])
        case .wantRead, .wantWrite: return []
        case .closed: throw TLSTestSetupError("closed by the server")
        case .failed(let error): throw error
        }
    }

    /// Calls `step` until it returns true, for at most `patience`.
    private static func retry(_ step: () throws -> Bool) throws {
        let deadline = ContinuousClock.now + patience
        while try !step() {
            guard ContinuousClock.now < deadline else { throw TLSTestSetupError("timed out") }
        }
    }

    /// A blocking TCP socket connected to 127.0.0.1:`port`, with 2 s send/receive timeouts.
    static func connect(port: Int) throws -> Int32 {
        try LoopbackClient.connect(port: port)
    }

    /// Whether the server closed `fd` (end of stream or reset) within a few seconds; what it
    /// sent before (a TLS alert) is skipped.
    static func isClosedByPeer(_ fd: Int32) -> Bool {
        let deadline = ContinuousClock.now + patience
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { return true }
            if count < 0 && errno != EAGAIN && errno != EINTR { return true }
        }
        return false
    }
}
