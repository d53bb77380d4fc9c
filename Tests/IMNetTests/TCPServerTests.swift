import CLinux
import Glibc
import IMCore
import IMNet
import Synchronization
import Testing

/// Echoes what it reads, through an `OutboundQueue`; closes on end of stream.
final class EchoConnection: FileHandler {
    let fd: Int32
    private let loop: EventLoop
    private let fileLimit: FileLimit
    private var queue = OutboundQueue()

    init(fd: Int32, loop: EventLoop, fileLimit: FileLimit) {
        self.fd = fd
        self.loop = loop
        self.fileLimit = fileLimit
    }

    func handleEvents(_ events: IOEvents) {
        if events.contains(.readable) { readAvailable() }
        if events.contains(.writable) { writeQueued() }
        if events.contains(.hangup) || events.contains(.error) { closeConnection() }
    }

    private func readAvailable() {
        let received: Int?
        do {
            received = try System.read(fd, into: loop.readBuffer)
        } catch {
            closeConnection()
            return
        }
        guard let received else { return }
        guard received > 0 else {
            closeConnection()
            return
        }

        let bytes = UnsafeRawBufferPointer(rebasing: loop.readBuffer[0..<received])
        queue.append(
            ByteChunk(capacity: received) {
                $0.copyMemory(from: bytes); return received
            })
        writeQueued()
    }

    private func writeQueued() {
        switch queue.write(to: fd) {
        case .flushed: loop.modify(self, events: .readable)
        case .wouldBlock: loop.modify(self, events: [.readable, .writable])
        case .failed: closeConnection()
        }
    }

    private func closeConnection() {
        loop.deregister(self)
        close(fd)
        fileLimit.release()
    }
}

/// Accepted sockets parked by a test, not served.
final class ParkedSockets: Sendable {
    private let fds = Mutex<[Int32]>([])

    func park(_ fd: Int32) { fds.withLock { $0.append(fd) } }
    var count: Int { fds.withLock { $0.count } }
    var first: Int32? { fds.withLock { $0.first } }

    func closeOne() -> Bool {
        guard let fd = fds.withLock({ $0.popLast() }) else { return false }
        close(fd)
        return true
    }

    func closeAll() { while closeOne() {} }
}

@Suite struct TCPServerTests {
    @Test func listensOnAPickedPortAndSpreadsConnectionsOverTheLoops() async throws {
        let group = try EventLoopGroup(loopCount: 2)
        group.start()
        defer { group.shutdown() }
        let fileLimit = FileLimit(limit: 1_000, spare: 0)
        let acceptedPerLoop = [Tally(), Tally()]

        let listener = try TCPServer.listen(
            group: group, host: "127.0.0.1", port: 0, fileLimit: fileLimit
        ) {
            loop, fd, _ in
            acceptedPerLoop[loop.index].add()
            let connection = EchoConnection(fd: fd, loop: loop, fileLimit: fileLimit)
            do { try loop.register(connection, events: .readable) } catch { close(fd) }
        }
        defer { listener.close() }
        #expect(listener.address.host == "127.0.0.1")
        #expect(listener.address.port > 0)

        var clients: [Int32] = []
        defer { clients.forEach { close($0) } }
        for index in 0..<24 {
            let client = try NetTestSupport.connectClient(port: listener.address.port)
            clients.append(client)
            let message = Array("hello \(index)".utf8)
            try NetTestSupport.writeAll(client, message)
            #expect(try NetTestSupport.readExactly(client, count: message.count) == message)
        }

        #expect(listener.statistics.accepted == 24)
        #expect(acceptedPerLoop.allSatisfy { $0.count > 0 })
        #expect(fileLimit.reserved == 24)
    }

    @Test func echoRoundTripsALargePayload() async throws {
        let group = try EventLoopGroup(loopCount: 1)
        group.start()
        defer { group.shutdown() }
        let fileLimit = FileLimit(limit: 100, spare: 0)
        let listener = try TCPServer.listen(
            group: group, host: "localhost", port: 0, fileLimit: fileLimit
        ) {
            loop, fd, _ in
            let connection = EchoConnection(fd: fd, loop: loop, fileLimit: fileLimit)
            do { try loop.register(connection, events: .readable) } catch { close(fd) }
        }
        defer { listener.close() }
        let client = try NetTestSupport.connectClient(port: listener.address.port)
        let payload = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7) }

        // Write and read in steps so neither side's buffers fill up with the test blocked.
        var echoed: [UInt8] = []
        for start in stride(from: 0, to: payload.count, by: 30_000) {
            let part = Array(payload[start..<min(start + 30_000, payload.count)])
            try NetTestSupport.writeAll(client, part)
            echoed += try NetTestSupport.readExactly(client, count: part.count)
        }
        close(client)

        #expect(echoed == payload)
        #expect(await NetTestSupport.waitUntil { fileLimit.reserved == 0 })
    }

    @Test func acceptedSocketGetsThePeerAddress() async throws {
        let group = try EventLoopGroup(loopCount: 1)
        group.start()
        defer { group.shutdown() }
        let parked = ParkedSockets()
        let peers = Mutex<[SocketAddress]>([])
        let listener = try TCPServer.listen(
            group: group, host: "127.0.0.1", port: 0, fileLimit: FileLimit(limit: 100, spare: 0)
        ) { _, fd, peer in
            peers.withLock { $0.append(peer) }
            parked.park(fd)
        }
        defer { listener.close(); parked.closeAll() }

        let client = try NetTestSupport.connectClient(port: listener.address.port)
        defer { close(client) }

        #expect(await NetTestSupport.waitUntil { parked.count == 1 })
        let peer = try #require(peers.withLock { $0.first })
        #expect(peer.host == "127.0.0.1")
        #expect(peer.port > 0)
        let accepted = try #require(parked.first)
        var noDelay: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(accepted, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, &size)
        #expect(noDelay != 0)
        #expect(fcntl(accepted, F_GETFL) & O_NONBLOCK != 0)
    }

    @Test func closedListenerRefusesNewConnections() async throws {
        let group = try EventLoopGroup(loopCount: 2)
        group.start()
        defer { group.shutdown() }
        let listener = try TCPServer.listen(
            group: group, host: "127.0.0.1", port: 0, fileLimit: FileLimit(limit: 100, spare: 0)
        ) { _, fd, _ in close(fd) }
        let port = listener.address.port

        listener.close()

        let refused = await NetTestSupport.waitUntil {
            guard let fd = try? NetTestSupport.connectClient(port: port) else { return true }
            close(fd)
            return false
        }
        #expect(refused)
    }

    @Test func listenRejectsBadPortsAndUnknownHosts() throws {
        let group = try EventLoopGroup(loopCount: 1)
        defer { group.shutdown() }

        #expect(throws: SocketAddressError.self) {
            _ = try TCPServer.listen(group: group, host: "127.0.0.1", port: 70_000) { _, fd, _ in
                close(fd)
            }
        }
        #expect(throws: SocketAddressError.self) {
            _ = try TCPServer.listen(group: group, host: "no-such-host.invalid", port: 0) {
                _, fd, _ in close(fd)
            }
        }
    }

    @Test func listenOnABusyPortFailsWithAddressInUse() throws {
        let group = try EventLoopGroup(loopCount: 1)
        defer { group.shutdown() }
        // A plain socket without SO_REUSEPORT holds the port exclusively.
        let blocker = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(blocker) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(blocker, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        listen(blocker, 1)
        let blockedPort = try SocketAddress(localAddressOf: blocker).port

        let error = #expect(throws: SystemError.self) {
            _ = try TCPServer.listen(group: group, host: "127.0.0.1", port: blockedPort) {
                _, fd, _ in close(fd)
            }
        }
        #expect(error?.errno == EADDRINUSE)
    }

    @Test func aSecondListenerOnAPortInUseIsRefusedEvenWithReusePort() throws {
        let group = try EventLoopGroup(loopCount: 2)
        defer { group.shutdown() }
        let first = try TCPServer.listen(group: group, host: "127.0.0.1", port: 0) {
            _, fd, _ in close(fd)
        }
        defer { first.close() }

        // Another process of ours would open SO_REUSEPORT sockets too; it must not join.
        let error = #expect(throws: SystemError.self) {
            _ = try TCPServer.listen(group: group, host: "127.0.0.1", port: first.address.port) {
                _, fd, _ in close(fd)
            }
        }
        #expect(error?.errno == EADDRINUSE)
    }
}
