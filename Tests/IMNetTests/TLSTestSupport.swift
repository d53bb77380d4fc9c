import CLinux
import Foundation
import Glibc
import IMCore
import IMNet
import Synchronization
import Testing

/// Parent of the TLS suites, which run one test at a time: the heap measured by TLSMemoryTests
/// must not be churned by the megabytes the echo tests move, and the 200-connection and
/// openssl tests need not compete with each other for the machine's two cores.
@Suite(.serialized) struct TLSTests {}

/// PEM text of the test certificates, made once per test process with the openssl CLI:
/// a CA (EC P-256), server certificates for `localhost` / `127.0.0.1` signed by it with an RSA
/// 2048 key (PKCS#8) and an EC P-256 key (traditional SEC1 form), and an unrelated CA.
struct TLSTestPEMs: Sendable {
    let caCertificate: String
    let rsaCertificate: String
    let rsaKey: String
    let ecCertificate: String
    let ecKey: String
    let otherCACertificate: String

    static let shared: Result<TLSTestPEMs, TLSTestSetupError> = {
        do throws(TLSTestSetupError) {
            return .success(try generate())
        } catch {
            return .failure(error)
        }
    }()

    private static let serverExtensions = [
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-addext", "basicConstraints=critical,CA:FALSE",
    ]

    private static func generate() throws(TLSTestSetupError) -> TLSTestPEMs {
        let directory = try TLSTestDirectory()
        defer { directory.remove() }
        let ecCurve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        let days = ["-days", "2", "-nodes"]

        try openssl(
            ["req", "-x509"] + ecCurve + days
                + ["-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=imctl test CA"],
            in: directory)
        try openssl(
            ["req", "-x509"] + ecCurve + days
                + ["-keyout", "other.key", "-out", "other.pem", "-subj", "/CN=other CA"],
            in: directory)
        try openssl(
            ["req", "-x509", "-CA", "ca.pem", "-CAkey", "ca.key", "-newkey", "rsa:2048"] + days
                + ["-keyout", "rsa.key", "-out", "rsa.pem", "-subj", "/CN=localhost"]
                + serverExtensions, in: directory)
        try openssl(
            ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.key"], in: directory
        )
        try openssl(
            ["req", "-x509", "-CA", "ca.pem", "-CAkey", "ca.key", "-key", "ec.key", "-days", "2"]
                + ["-out", "ec.pem", "-subj", "/CN=localhost"] + serverExtensions, in: directory)

        return TLSTestPEMs(
            caCertificate: try directory.read("ca.pem"),
            rsaCertificate: try directory.read("rsa.pem"),
            rsaKey: try directory.read("rsa.key"), ecCertificate: try directory.read("ec.pem"),
            ecKey: try directory.read("ec.key"), otherCACertificate: try directory.read("other.pem")
        )
    }

    private static func openssl(_ arguments: [String], in directory: TLSTestDirectory)
        throws(TLSTestSetupError)
    {
        let result = TLSTestProcess.run(arguments, in: directory.path)
        guard result.status == 0 else {
            throw TLSTestSetupError("openssl \(arguments.joined(separator: " ")): \(result.output)")
        }
    }
}

struct TLSTestSetupError: Error, Sendable, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// A unique temporary directory, removed by `remove()`.
struct TLSTestDirectory: Sendable {
    let path: String

    init() throws(TLSTestSetupError) {
        let base =
            NSTemporaryDirectory().hasSuffix("/")
            ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
        var template = Array("\(base)imctl-tls-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TLSTestSetupError("mkdtemp failed") }
        path = String(cString: made)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    func write(_ name: String, _ text: String) throws(TLSTestSetupError) -> String {
        do {
            try text.write(toFile: file(name), atomically: false, encoding: .utf8)
        } catch {
            throw TLSTestSetupError("cannot write \(name): \(error)")
        }
        return file(name)
    }

    func read(_ name: String) throws(TLSTestSetupError) -> String {
        do {
            return try String(contentsOfFile: file(name), encoding: .utf8)
        } catch {
            throw TLSTestSetupError("cannot read \(name): \(error)")
        }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs blocking test work (blocking sockets, child processes, long CPU work) on a thread of
/// its own, and awaits it without holding one of the few cooperative threads: the HTTP and RPC
/// servers tested in the same process run their handlers on that pool. Assert on the result
/// back in the test, not inside `body` (issues are attributed through the test's task).
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// The test PEMs written as files into a fresh directory; `remove()` when done.
struct TLSTestFiles: Sendable {
    /// Writes the files, generating the PEMs first if this process has not yet (about a second
    /// of openssl runs, off the cooperative pool).
    static func make() async throws -> TLSTestFiles {
        try await onOwnThread { try TLSTestFiles() }
    }

    let directory: TLSTestDirectory
    let caFile: String
    let otherCAFile: String
    /// The RSA server certificate followed by the CA certificate.
    let rsaChainFile: String
    let rsaKeyFile: String
    let ecChainFile: String
    let ecKeyFile: String

    private init() throws {
        let pems = try TLSTestPEMs.shared.get()
        directory = try TLSTestDirectory()
        caFile = try directory.write("ca.pem", pems.caCertificate)
        otherCAFile = try directory.write("other-ca.pem", pems.otherCACertificate)
        rsaChainFile = try directory.write(
            "rsa-chain.pem", pems.rsaCertificate + pems.caCertificate)
        rsaKeyFile = try directory.write("rsa.key", pems.rsaKey)
        ecChainFile = try directory.write("ec-chain.pem", pems.ecCertificate + pems.caCertificate)
        ecKeyFile = try directory.write("ec.key", pems.ecKey)
    }

    func rsaServerContext() throws -> TLSContext {
        try TLSContext(certificateChainFile: rsaChainFile, privateKeyFile: rsaKeyFile)
    }

    func ecServerContext() throws -> TLSContext {
        try TLSContext(certificateChainFile: ecChainFile, privateKeyFile: ecKeyFile)
    }

    func clientContext() throws -> TLSContext {
        try TLSContext(configuration: .client(trustedCAFile: caFile))
    }

    func remove() { directory.remove() }
}

/// Runs a child process to completion, bounded in time (killed after `timeout`).
enum TLSTestProcess {
    struct Result: Sendable {
        let status: Int32
        let output: String
    }

    static func run(
        _ arguments: [String], in directory: String? = nil, timeout: Duration = .seconds(20)
    ) -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice

        do {
            try process.run()
        } catch {
            return Result(status: -1, output: "cannot run openssl: \(error)")
        }
        // Outputs here are a few KiB, far below a pipe's capacity: wait first, then read.
        waitForExit(process, timeout: timeout)
        let text = output.fileHandleForReading.readDataToEndOfFile()
        return Result(
            status: process.terminationStatus, output: String(decoding: text, as: UTF8.self))
    }

    private static func waitForExit(_ process: Process, timeout: Duration) {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            usleep(5_000)
        }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}

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
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError.last("socket") }

        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        let timeoutSize = socklen_t(MemoryLayout<timeval>.size)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, timeoutSize)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, timeoutSize)
        if var size = receiveBufferSize {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let error = SystemError.last("connect")
            Glibc.close(fd)
            throw error
        }
        return fd
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
