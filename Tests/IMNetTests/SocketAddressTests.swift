import IMNet
import Testing

@Suite struct SocketAddressTests {
    @Test(arguments: [
        ("127.0.0.1:3101", "127.0.0.1", 3101),
        (":8080", "0.0.0.0", 8080),
        ("localhost:0", "localhost", 0),
        ("comet-1.internal:65535", "comet-1.internal", 65535),
    ])
    func parsesHostAndPort(text: String, host: String, port: Int) throws {
        let address = try SocketAddress(parsing: text)

        #expect(address.host == host)
        #expect(address.port == port)
        #expect(address.description == "\(host):\(port)")
    }

    @Test(arguments: [
        "8080", "host:", "host:65536", "host:-1", "host:80a", "[::1]:80", "::1:80", "bad host:1",
        "h:123456",
    ])
    func rejectsMalformedAddresses(text: String) {
        #expect(throws: SocketAddressError.self) { try SocketAddress(parsing: text) }
    }

    @Test func errorNamesTheInputAndTheProblem() {
        let error = #expect(throws: SocketAddressError.self) {
            try SocketAddress(parsing: "host:99999")
        }

        #expect(error?.description.contains("host:99999") == true)
        #expect(error?.description.contains("65535") == true)
    }
}

@Suite struct SystemTests {
    @Test func monotonicClockDoesNotGoBackwards() {
        let first = System.monotonicNanos()
        let second = System.monotonicNanos()

        #expect(second >= first)
        #expect(System.monotonicMillis() >= first / 1_000_000)
    }

    @Test func systemErrorDescribesTheCallAndErrno() {
        let error = SystemError(call: "bind 127.0.0.1:80", errno: 98)

        #expect(error.description.contains("bind 127.0.0.1:80"))
        #expect(error.description.contains("errno 98"))
    }

    @Test func readReportsWouldBlockAsNil() throws {
        let (mine, peer) = try NetTestSupport.socketPair()
        defer { System.close(mine); System.close(peer) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 1)
        defer { buffer.deallocate() }

        #expect(try System.read(mine, into: buffer) == nil)
        #expect(System.coreCount >= 1)
    }
}
