import Glibc
import IMCore
import IMNet
import Synchronization

/// A TLS echo server on its own event-loop group: what each connection reads is queued back
/// through an `OutboundQueue` and written with `write(to: TLSSession)`.
final class TLSEchoServer: Sendable {
    let group: EventLoopGroup
    let listener: BoundListener
    let statistics = TLSEchoStatistics()
    let fileLimit = FileLimit(limit: 1_000, spare: 0)

    var port: Int { listener.address.port }

    /// - Parameters:
    ///   - readSize: bytes read per `TLSSession.read` (at most the loop's 64 KiB buffer); small
    ///     values leave decrypted bytes inside the session between reads.
    ///   - echoChunkSize: echoed bytes are queued in chunks of at most this size.
    ///   - sendBufferSize: `SO_SNDBUF` of accepted sockets (nil: the kernel's default), so that
    ///     they fill up sooner.
    init(
        context: TLSContext, loopCount: Int = 2, readSize: Int = 64 * 1024,
        echoChunkSize: Int = 64 * 1024, sendBufferSize: Int32? = nil
    ) throws {
        group = try EventLoopGroup(loopCount: loopCount)
        group.start()
        let options = TLSEchoConnection.Options(
            readSize: readSize, echoChunkSize: echoChunkSize, sendBufferSize: sendBufferSize)
        let (statistics, fileLimit) = (self.statistics, self.fileLimit)
        do {
            listener = try TCPServer.listen(
                group: group, host: "127.0.0.1", port: 0, fileLimit: fileLimit
            ) { loop, fd, _ in
                TLSEchoConnection.start(
                    fd: fd, loop: loop, context: context, options: options, statistics: statistics,
                    fileLimit: fileLimit)
            }
        } catch {
            group.shutdown()
            throw error
        }
    }

    func stop() {
        listener.close()
        group.shutdown()
    }
}

/// What the echo connections did, readable from the test.
final class TLSEchoStatistics: Sendable {
    private let handshakes = Atomic<Int>(0)
    private let openNow = Atomic<Int>(0)
    private let blockedWrites = Atomic<Int>(0)
    private let deferredReads = Atomic<Int>(0)
    private let failures = Mutex<[TLSError]>([])

    var handshakesCompleted: Int { handshakes.load(ordering: .relaxed) }
    var openConnections: Int { openNow.load(ordering: .relaxed) }
    /// Times a write left bytes queued because the socket was full.
    var writesThatBlocked: Int { blockedWrites.load(ordering: .relaxed) }
    /// Times a connection stopped reading with decrypted bytes still inside its session.
    var readsDeferred: Int { deferredReads.load(ordering: .relaxed) }
    var errors: [TLSError] { failures.withLock { $0 } }

    func opened() { openNow.wrappingAdd(1, ordering: .relaxed) }
    func closed() { openNow.wrappingSubtract(1, ordering: .relaxed) }
    func handshakeCompleted() { handshakes.wrappingAdd(1, ordering: .relaxed) }
    func writeBlocked() { blockedWrites.wrappingAdd(1, ordering: .relaxed) }
    func readDeferred() { deferredReads.wrappingAdd(1, ordering: .relaxed) }
    func failed(_ error: TLSError) { failures.withLock { $0.append(error) } }
}

/// One echo connection: handshake, then read → queue → write, following `TLSSession`'s rules
/// for a level-triggered loop.
///
/// `@unchecked Sendable` only so that `start` can hand it to its loop; from then on it is
/// touched on that loop's thread alone.
final class TLSEchoConnection: FileHandler, @unchecked Sendable {
    struct Options: Sendable {
        let readSize: Int
        let echoChunkSize: Int
        let sendBufferSize: Int32?
    }

    let fd: Int32
    private let loop: EventLoop
    private let session: TLSSession
    private let options: Options
    private let statistics: TLSEchoStatistics
    private let fileLimit: FileLimit
    private var queue = OutboundQueue()
    private var isOpen = true
    private var isEstablished = false
    private var writeBlocked = false
    private var readWantsWrite = false
    private var writeWantsRead = false

    /// Reads per readiness event before yielding to the loop's other connections.
    private static let readsPerWake = 4

    private init(
        fd: Int32, loop: EventLoop, session: TLSSession, options: Options,
        statistics: TLSEchoStatistics, fileLimit: FileLimit
    ) {
        self.fd = fd
        self.loop = loop
        self.session = session
        self.options = options
        self.statistics = statistics
        self.fileLimit = fileLimit
    }

    /// Called on `loop` for an accepted socket.
    static func start(
        fd: Int32, loop: EventLoop, context: TLSContext, options: Options,
        statistics: TLSEchoStatistics, fileLimit: FileLimit
    ) {
        if var size = options.sendBufferSize {
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        guard let session = try? TLSSession(context: context, fd: fd) else {
            close(fd)
            fileLimit.release()
            return
        }
        let connection = TLSEchoConnection(
            fd: fd, loop: loop, session: session, options: options, statistics: statistics,
            fileLimit: fileLimit)
        do {
            try loop.register(connection, events: .readable)
        } catch {
            close(fd)
            fileLimit.release()
            return
        }
        statistics.opened()
        connection.advanceHandshake()
    }

    func handleEvents(_ events: IOEvents) {
        if !isEstablished {
            advanceHandshake()
        } else {
            if events.contains(.readable) || (events.contains(.writable) && readWantsWrite) {
                readAvailable()
            }
            if events.contains(.writable) || (events.contains(.readable) && writeWantsRead) {
                writeQueued()
            }
        }
        if !events.isDisjoint(with: [.hangup, .error]) { closeConnection() }
    }

    /// Scheduled when reading stopped with decrypted bytes left inside the session.
    func flush() {
        readAvailable()
    }

    func loopDidShutdown() {
        guard isOpen else { return }
        isOpen = false
        close(fd)
        fileLimit.release()
        statistics.closed()
    }

    private func advanceHandshake() {
        guard isOpen else { return }
        switch session.handshake() {
        case .done:
            isEstablished = true
            statistics.handshakeCompleted()
            updateInterest()
        case .wantRead: loop.modify(self, events: .readable)
        case .wantWrite: loop.modify(self, events: .writable)
        case .failed(let error):
            statistics.failed(error)
            closeConnection()
        }
    }

    private func readAvailable() {
        let buffer = UnsafeMutableRawBufferPointer(rebasing: loop.readBuffer[..<options.readSize])
        for _ in 0..<Self.readsPerWake {
            guard isOpen else { return }
            switch session.read(into: buffer) {
            case .bytes(let count):
                echo(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                if !session.hasBufferedInput { return }
            case .wantRead:
                readWantsWrite = false
                return updateInterest()
            case .wantWrite:
                readWantsWrite = true
                return updateInterest()
            case .closed:
                session.shutdown()
                return closeConnection()
            case .failed(let error):
                statistics.failed(error)
                return closeConnection()
            }
        }
        // The loop will not report bytes that are already inside the session: come back.
        if isOpen && session.hasBufferedInput {
            statistics.readDeferred()
            loop.scheduleFlush(self)
        }
    }

    private func echo(_ bytes: UnsafeRawBufferPointer) {
        var start = 0
        while start < bytes.count {
            let end = min(start + options.echoChunkSize, bytes.count)
            let part = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            queue.append(
                ByteChunk(capacity: part.count) {
                    $0.copyMemory(from: part)
                    return part.count
                })
            start = end
        }
        writeQueued()
    }

    private func writeQueued() {
        guard isOpen, !queue.isEmpty else { return }
        writeWantsRead = false
        writeBlocked = false

        switch queue.write(to: session) {
        case .flushed: break
        case .wantWrite:
            writeBlocked = true
            statistics.writeBlocked()
        case .wantRead: writeWantsRead = true
        case .failed(let error):
            statistics.failed(error)
            return closeConnection()
        }
        updateInterest()
    }

    private func updateInterest() {
        guard isOpen else { return }
        let wantsWritable = writeBlocked || readWantsWrite
        loop.modify(self, events: wantsWritable ? [.readable, .writable] : .readable)
    }

    private func closeConnection() {
        guard isOpen else { return }
        isOpen = false
        queue.removeAll()
        loop.deregister(self)
        close(fd)
        fileLimit.release()
        statistics.closed()
    }
}
