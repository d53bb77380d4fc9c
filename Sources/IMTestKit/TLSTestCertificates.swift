import Foundation
import Glibc
import IMNet

// Test certificates for the TLS suites of every target (IMNet's sessions and listeners,
// comet's TLS listeners, the CLI's wss client), made with the openssl CLI.

/// PEM text of the test certificates, made once per test process with the openssl CLI:
/// a CA (EC P-256), server certificates for `localhost` / `127.0.0.1` signed by it with an RSA
/// 2048 key (PKCS#8) and an EC P-256 key (traditional SEC1 form), and an unrelated CA.
public struct TLSTestPEMs: Sendable {
    public let caCertificate: String
    public let rsaCertificate: String
    public let rsaKey: String
    public let ecCertificate: String
    public let ecKey: String
    public let otherCACertificate: String

    public static let shared: Result<TLSTestPEMs, TLSTestSetupError> = {
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

public struct TLSTestSetupError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A unique temporary directory, removed by `remove()`.
public struct TLSTestDirectory: Sendable {
    public let path: String

    public init() throws(TLSTestSetupError) {
        let base =
            NSTemporaryDirectory().hasSuffix("/")
            ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
        var template = Array("\(base)imctl-tls-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TLSTestSetupError("mkdtemp failed") }
        path = String(cString: made)
    }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    public func write(_ name: String, _ text: String) throws(TLSTestSetupError) -> String {
        do {
            try text.write(toFile: file(name), atomically: false, encoding: .utf8)
        } catch {
            throw TLSTestSetupError("cannot write \(name): \(error)")
        }
        return file(name)
    }

    public func read(_ name: String) throws(TLSTestSetupError) -> String {
        do {
            return try String(contentsOfFile: file(name), encoding: .utf8)
        } catch {
            throw TLSTestSetupError("cannot read \(name): \(error)")
        }
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs blocking test work (blocking sockets, child processes, long CPU work) on a thread of
/// its own, and awaits it without holding one of the few cooperative threads: servers tested
/// in the same process (HTTP, RPC, comet's logic calls) run their tasks on that pool. Assert
/// on the result back in the test, not inside `body` (issues are attributed through the
/// test's task).
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws
    -> T
{
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// The test PEMs written as files into a fresh directory; `remove()` when done.
public struct TLSTestFiles: Sendable {
    /// Writes the files, generating the PEMs first if this process has not yet (about a second
    /// of openssl runs, off the cooperative pool).
    public static func make() async throws -> TLSTestFiles {
        try await onOwnThread { try TLSTestFiles() }
    }

    public let directory: TLSTestDirectory
    public let caFile: String
    public let otherCAFile: String
    /// The RSA server certificate followed by the CA certificate.
    public let rsaChainFile: String
    public let rsaKeyFile: String
    public let ecChainFile: String
    public let ecKeyFile: String

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

    public func rsaServerContext() throws -> TLSContext {
        try TLSContext(certificateChainFile: rsaChainFile, privateKeyFile: rsaKeyFile)
    }

    public func ecServerContext() throws -> TLSContext {
        try TLSContext(certificateChainFile: ecChainFile, privateKeyFile: ecKeyFile)
    }

    public func clientContext() throws -> TLSContext {
        try TLSContext(configuration: .client(trustedCAFile: caFile))
    }

    public func remove() { directory.remove() }
}

/// Runs a child process to completion, bounded in time (killed after `timeout`).
public enum TLSTestProcess {
    public struct Result: Sendable {
        public let status: Int32
        public let output: String
    }

    public static func run(
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
