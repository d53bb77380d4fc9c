import CLinux
import Glibc
import IMNet
import IMTestKit
import Testing

extension TLSTests {
    /// The heap cost of an idle server-side TLS session after its handshake.
    ///
    /// Measured with `mallinfo2` over 500 sessions, three times, keeping the median: tests of
    /// other modules allocate and free in parallel in the same process (the TLS suites themselves
    /// run one at a time), so the bound is loose. It still catches the regression that matters:
    /// idle sessions keeping their I/O buffers, about 48 KB each instead of 15 KB without
    /// `SSL_MODE_RELEASE_BUFFERS`. Run this suite alone for the figure quoted in docs/tls.md.
    @Suite struct TLSMemoryTests {
        static let sessionCount = 500
        static let rounds = 3

        @Test func idleServerSessionKeepsNoIOBuffers() async throws {
            let files = try await TLSTestFiles.make()
            defer { files.remove() }
            let serverContext = try files.ecServerContext()
            let clientContext = try files.clientContext()

            let samples = try await onOwnThread {
                try (0..<Self.rounds).map { _ in
                    try Self.measureIdleServerSession(server: serverContext, client: clientContext)
                }
            }

            let median = samples.sorted()[samples.count / 2]
            print("idle TLS server session: \(median) B (median of \(samples))")
            #expect(median > 0)
            #expect(median < 24 * 1024, "idle sessions hold no I/O buffers: \(samples)")
        }

        /// Heap bytes per idle server session: established, one message each way, client gone.
        static func measureIdleServerSession(server: TLSContext, client: TLSContext) throws -> Int {
            let before = heapInUse()
            var pairs: [TLSSessionPair] = []
            for _ in 0..<sessionCount {
                let pair = try TLSSessionPair(serverContext: server, clientContext: client)
                pairs.append(pair)
                try establishAndExchange(pair)
            }
            let servers = pairs.map(\.server)
            pairs.forEach { close($0.client.fd) }
            pairs.removeAll()

            let serverOnly = withExtendedLifetime(servers) { heapInUse() }
            servers.forEach { close($0.fd) }
            return (serverOnly - before) / sessionCount
        }

        /// Handshake, then one small message each way, so that both sides have used (and released)
        /// their read and write buffers.
        static func establishAndExchange(_ pair: TLSSessionPair) throws {
            let results = pair.handshake()
            guard results.server == .done, results.client == .done else {
                throw TLSTestSetupError("handshake: \(results)")
            }

            var buffer = [UInt8](repeating: 0, count: 256)
            let message = [UInt8](repeating: 1, count: 100)
            for (writer, reader) in [(pair.client, pair.server), (pair.server, pair.client)] {
                guard message.withUnsafeBytes({ writer.write($0) }) == .wrote(100) else {
                    throw TLSTestSetupError("write failed")
                }
                // The client first reads the server's session tickets, then the message.
                var received = 0
                for _ in 0..<8 where received < 100 {
                    if case .bytes(let count) = buffer.withUnsafeMutableBytes({
                        reader.read(into: $0)
                    }) {
                        received += count
                    }
                }
                guard received == 100 else { throw TLSTestSetupError("read \(received) of 100") }
            }
        }

        static func heapInUse() -> Int {
            let info = mallinfo2()
            return Int(info.uordblks) + Int(info.hblkhd)
        }
    }
}
