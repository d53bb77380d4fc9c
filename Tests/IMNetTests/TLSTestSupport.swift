import CLinux
import Foundation
import Glibc
import IMCore
import IMNet
import IMTestKit
import Synchronization
import Testing

/// Parent of the TLS suites, which run one test at a time: the heap measured by TLSMemoryTests
/// must not be churned by the megabytes the echo tests move, and the 200-connection and
/// openssl tests need not compete with each other for the machine's two cores.
@Suite(.serialized) struct TLSTests {}

// MARK: - A blocking TLS client

/// A TLS client on a blocking loopback socket, for driving a server from a test thread. Every
/// call is bounded: the socket has 2 s timeouts and each operation gives up after `patience`.
///
/// `@unchecked Sendable`: handed to one thread at a time (`onOwnThread` returns before the test
/// touches it again).
final class TLSBlockingClient: @unchecked Sendable {
    let fd: Int32
    let session: TLSSession
    private let patience: Duration = .seconds(10)

    /// Connects to 127.0.0.1:`port`; `receiveBufferSize` shrinks the socket's receive buffer
    /// (set before connecting) so the server runs into a full socket sooner.
    init(
        port: Int, context: TLSContext, serverName: String? = "localhost",
        receiveBufferSize: Int32? = nil
    ) throws {
        fd = try TLSTestSockets.connect(port: port, receiveBufferSize: receiveBufferSize)
        do {
            session = try TLSSession(context: context, fd: fd, serverName: serverName)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    deinit {
        Glibc.close(fd)
    }

    func handshake() throws {
        let deadline = ContinuousClock.now + patience
        while true {
            switch session.handshake() {
            case .done: return
            case .failed(let error): throw error
            case .wantRead, .wantWrite:
                guard ContinuousClock.now < deadline else {
                    throw TLSTestSetupError("handshake timed out")
                }
            }
        }
    }

    func writeAll(_ bytes: [UInt8]) throws {
        let deadline = ContinuousClock.now + patience
        var offset = 0
        while offset < bytes.count {
            let result = bytes[offset...].withUnsafeBytes { session.write($0) }
            switch result {
            case .wrote(let count): offset += count
            case .failed(let error): throw error
            case .wantRead, .wantWrite:
                guard ContinuousClock.now < deadline else {
                    throw TLSTestSetupError("write timed out")
                }
            }
        }
    }

    func readExactly(_ count: Int) throws -> [UInt8] {
        let deadline = ContinuousClock.now + patience
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let result = bytes[offset...].withUnsafeMutableBytes { session.read(into: $0) }
            switch result {
            case .bytes(let received): offset += received
            case .closed: throw TLSTestSetupError("closed after \(offset) of \(count) bytes")
            case .failed(let error): throw error
            case .wantRead, .wantWrite:
                guard ContinuousClock.now < deadline else {
                    throw TLSTestSetupError("read timed out")
                }
            }
        }
        return bytes
    }
}

enum TLSTestSockets {
    /// A blocking TCP socket connected to 127.0.0.1:`port`, with 2 s send/receive timeouts.
    static func connect(port: Int, receiveBufferSize: Int32? = nil) throws -> Int32 {
        try LoopbackClient.connect(port: port, receiveBufferSize: receiveBufferSize.map(Int.init))
    }

    /// A connected pair of non-blocking Unix stream sockets.
    static func pair() throws -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        let type =
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
            | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, type, 0, &fds) == 0 else { throw SystemError.last("socketpair") }
        return (fds[0], fds[1])
    }
}

/// A server and a client session on the two ends of a socket pair, driven by the test thread.
struct TLSSessionPair {
    let server: TLSSession
    let client: TLSSession

    init(serverContext: TLSContext, clientContext: TLSContext, serverName: String? = "localhost")
        throws
    {
        let (serverFD, clientFD) = try TLSTestSockets.pair()
        server = try TLSSession(context: serverContext, fd: serverFD)
        client = try TLSSession(context: clientContext, fd: clientFD, serverName: serverName)
    }

    func close() {
        Glibc.close(server.fd)
        Glibc.close(client.fd)
    }

    /// Runs both handshakes in turns until both finish or one fails (bounded rounds).
    func handshake() -> (server: TLSSession.HandshakeResult, client: TLSSession.HandshakeResult) {
        var serverResult = TLSSession.HandshakeResult.wantRead
        var clientResult = TLSSession.HandshakeResult.wantRead
        for _ in 0..<50 {
            clientResult = client.handshake()
            serverResult = server.handshake()
            if case .failed = clientResult { break }
            if case .failed = serverResult { break }
            if clientResult == .done && serverResult == .done { break }
        }
        return (serverResult, clientResult)
    }
}
