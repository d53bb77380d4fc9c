import Foundation
import IMNet

/// The bytes under the WebSocket client: the plain socket (`ws://`) or TLS over it (`wss://`).
/// Every wait ends at the deadline given, so a silent server cannot hang the command.
protocol ClientByteStream: AnyObject {
    /// The socket to poll for readability.
    var fd: Int32 { get }

    /// Whether bytes already taken off the socket wait to be read: poll does not see them.
    var hasBufferedInput: Bool { get }

    /// Sends every byte of `bytes`.
    func send(_ bytes: [UInt8], deadline: ContinuousClock.Instant) throws(SocketError)

    /// Reads what is available (waiting until `deadline`); the byte count, 0 at end of stream.
    func receive(into buffer: inout [UInt8], deadline: ContinuousClock.Instant)
        throws(SocketError) -> Int

    /// Reads what is available without waiting.
    func readAvailable(into buffer: inout [UInt8]) throws(SocketError) -> ClientSocket.ReadResult
}

extension ClientSocket: ClientByteStream {
    var hasBufferedInput: Bool { false }
}

/// TLS over a connected `ClientSocket` (non-blocking), verified against `--tls-ca` or the
/// system's trusted CAs, with the URL's host as SNI and as the name the certificate must match.
final class ClientTLSStream: ClientByteStream {
    private let socket: ClientSocket
    private let session: TLSSession

    var fd: Int32 { socket.fd }

    var hasBufferedInput: Bool { session.hasBufferedInput }

    /// Runs the handshake over `socket` until done or `deadline`; a failed verification
    /// throws a `SocketError` that says why (e.g. "certificate verify failed: ...").
    init(
        over socket: ClientSocket, context: TLSContext, serverName: String,
        deadline: ContinuousClock.Instant
    ) throws(SocketError) {
        self.socket = socket
        do {
            session = try TLSSession(context: context, fd: socket.fd, serverName: serverName)
        } catch {
            throw SocketError("TLS setup failed: \(error)")
        }
        try handshake(deadline: deadline)
    }

    /// Best effort close_notify (never waits) before the socket is closed.
    deinit {
        session.shutdown()
    }

    private func handshake(deadline: ContinuousClock.Instant) throws(SocketError) {
        do throws(SocketError) {
            while true {
                switch session.handshake() {
                case .done: return
                case .wantRead: try socket.wait(for: Int16(POLLIN), until: deadline)
                case .wantWrite: try socket.wait(for: Int16(POLLOUT), until: deadline)
                case .failed(let error): throw SocketError(error.description)
                }
            }
        } catch .timedOut {
            throw SocketError("TLS handshake failed: the server did not answer in time")
        }
    }

    func send(_ bytes: [UInt8], deadline: ContinuousClock.Instant) throws(SocketError) {
        var offset = 0
        while offset < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                session.write(UnsafeRawBufferPointer(rebasing: raw[offset...]))
            }
            switch result {
            case .wrote(let count): offset += count
            case .wantWrite: try socket.wait(for: Int16(POLLOUT), until: deadline)
            case .wantRead: try socket.wait(for: Int16(POLLIN), until: deadline)
            case .failed(let error): throw SocketError(error.description)
            }
        }
    }

    func receive(into buffer: inout [UInt8], deadline: ContinuousClock.Instant)
        throws(SocketError) -> Int
    {
        while true {
            switch try readAvailable(into: &buffer) {
            case .bytes(let count): return count
            case .endOfStream: return 0
            case .wouldBlock: try socket.wait(for: Int16(POLLIN), until: deadline)
            }
        }
    }

    /// A `.wantWrite` (a renegotiation-like step that must send first) reads as `.wouldBlock`:
    /// the next write or read completes it.
    func readAvailable(into buffer: inout [UInt8]) throws(SocketError) -> ClientSocket.ReadResult {
        switch buffer.withUnsafeMutableBytes({ session.read(into: $0) }) {
        case .bytes(let count): return .bytes(count)
        case .closed: return .endOfStream
        case .wantRead, .wantWrite: return .wouldBlock
        case .failed(let error): throw SocketError(error.description)
        }
    }
}
