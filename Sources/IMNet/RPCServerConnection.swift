import Glibc
import IMCore

/// One accepted RPC connection, confined to the loop that accepted it.
///
/// Reads go through the loop's shared buffer into a `FrameDecoder`, which keeps only the
/// bytes of an unfinished frame. Each call is handed to the handler on a task; at most
/// `maxInFlightPerConnection` run at once. Calls decoded beyond the cap (at most one read's
/// worth) wait in `waiting`, and reading stops until they are dispatched.
final class RPCServerConnection: FileHandler {
    let fd: Int32
    private let peer: SocketAddress
    private let loop: EventLoop
    private let server: RPCServer
    private var decoder: FrameDecoder
    private var outbound = OutboundQueue()
    private var waiting: [Frame] = []
    private var inFlight = 0
    /// This connection's share of the server's `bufferedBytes`.
    private var reservedBytes = 0
    private var writeBlocked = false
    private var isClosed = false

    init(fd: Int32, peer: SocketAddress, loop: EventLoop, server: RPCServer) {
        self.fd = fd
        self.peer = peer
        self.loop = loop
        self.server = server
        decoder = FrameDecoder(maxBodySize: server.configuration.maxPayloadSize)
    }

    private var configuration: RPCServer.Configuration { server.configuration }
    private var maxInFlight: Int { max(configuration.maxInFlightPerConnection, 1) }

    /// Registers on the loop (loop thread).
    func start() throws {
        try loop.register(self, events: .readable)
        enableRPCKeepAlive(fd)
        server.metrics.openConnections.add(1)
    }

    // MARK: Events

    func handleEvents(_ events: IOEvents) {
        if events.contains(.error) { return close(reason: "socket error") }
        if events.contains(.writable) { flush() }
        guard !isClosed else { return }

        if events.contains(.readable) {
            readOnce()
        } else if events.contains(.hangup) {
            close(reason: "peer hung up")
        }
    }

    func loopDidShutdown() {
        guard !isClosed else { return }
        isClosed = true
        System.close(fd)
        releaseResources(reason: "event loop shut down")
    }

    private func readOnce() {
        let buffer = loop.readBuffer
        let count: Int?
        do {
            count = try System.read(fd, into: buffer)
        } catch {
            return close(reason: "read failed: \(error)")
        }

        guard let count else { return }
        guard count > 0 else { return close(reason: "peer closed") }

        do {
            try decoder.decode(UnsafeRawBufferPointer(rebasing: buffer[..<count])) { frame in
                try accept(frame)
            }
        } catch {
            return refuse(error)
        }
        guard reserveBuffer(decoder.pendingByteCount) else {
            server.metrics.bufferLimitCloses.increment()
            Self.logger.warning(
                "RPC connection closed: unfinished calls over the buffer budget",
                ["peer": "\(peer)", "pending": "\(decoder.pendingByteCount)"])
            return close(reason: "buffer budget")
        }
        updateInterest()
    }

    /// Moves this connection's share of the server-wide budget to `bytes`; false (nothing
    /// taken) when that would take the total past `maxBufferedBytes`.
    private func reserveBuffer(_ bytes: Int) -> Bool {
        let change = bytes - reservedBytes
        guard change != 0 else { return true }

        let limit = max(configuration.maxBufferedBytes, configuration.maxPayloadSize)
        let total = server.bufferedBytes.add(change, ordering: .relaxed).newValue
        guard change < 0 || total <= limit else {
            server.bufferedBytes.subtract(change, ordering: .relaxed)
            return false
        }
        reservedBytes = bytes
        return true
    }

    // MARK: Calls

    private func accept(_ frame: Frame) throws(RPCFrameRefusal) {
        // A reply queued for an earlier frame of this read may have closed the connection.
        guard !isClosed else { return }
        guard frame.ver == RPCWire.callVersion else { throw RPCFrameRefusal(ver: frame.ver) }

        if frame.op == RPCWire.pingMethod {
            queueReply(RPCWire.frame(
                ver: RPCWire.replyVersion, method: frame.op, seq: frame.seq, payload: []))
        } else if inFlight < maxInFlight && waiting.isEmpty {
            dispatch(frame)
        } else {
            waiting.append(frame)
        }
    }

    private func dispatch(_ frame: Frame) {
        server.metrics.calls.increment()
        inFlight += 1

        let handler = server.handler
        let connection = LoopConfined(self, on: loop)
        Task {
            let reply = await runCall(frame, on: handler)
            connection.loop.execute { connection.value.replyReady(reply) }
        }
    }

    /// A handler finished (loop thread, via `execute`).
    private func replyReady(_ reply: RPCServerReply) {
        inFlight -= 1
        guard !isClosed else {
            server.metrics.droppedReplies.increment()
            return
        }

        queueReply(encode(reply))
        dispatchWaiting()
        updateInterest()
    }

    private func encode(_ reply: RPCServerReply) -> ByteChunk {
        switch reply.outcome {
        case .success(let payload) where payload.count <= configuration.maxPayloadSize:
            return RPCWire.frame(
                ver: RPCWire.replyVersion, method: reply.method, seq: reply.seq, payload: payload)
        case .success(let payload):
            server.metrics.failedCalls.increment()
            Self.logger.warning(
                "RPC reply over the payload limit",
                ["method": "\(reply.method)", "bytes": "\(payload.count)"])
            return errorFrame(reply, "reply of \(payload.count) bytes is over the limit")
        case .failure(let message):
            server.metrics.failedCalls.increment()
            return errorFrame(reply, message)
        }
    }

    private func errorFrame(_ reply: RPCServerReply, _ message: String) -> ByteChunk {
        RPCWire.frame(
            ver: RPCWire.errorReplyVersion, method: reply.method, seq: reply.seq,
            payload: RPCWire.errorBody(message))
    }

    /// Hands waiting calls to the handler while the cap allows.
    private func dispatchWaiting() {
        guard !waiting.isEmpty, inFlight < maxInFlight else { return }

        let count = min(waiting.count, maxInFlight - inFlight)
        let ready = waiting.prefix(count)
        waiting.removeFirst(count)
        ready.forEach(dispatch)
    }

    // MARK: Writing

    private func queueReply(_ chunk: ByteChunk) {
        let hadBacklog = !outbound.isEmpty
        outbound.append(chunk)

        if hadBacklog && outbound.byteCount > configuration.maxOutboundBytes {
            server.metrics.slowReaders.increment()
            return close(reason: "client does not read its replies")
        }
        loop.scheduleFlush(self)
    }

    func flush() {
        guard !isClosed else { return }

        switch outbound.write(to: fd) {
        case .flushed: writeBlocked = false
        case .wouldBlock: writeBlocked = true
        case .failed(let code): return close(reason: "write failed (errno \(code))")
        }
        updateInterest()
    }

    /// Readable while there is room for more calls, writable while replies are stuck.
    private func updateInterest() {
        guard !isClosed else { return }

        let reading =
            waiting.isEmpty && inFlight < maxInFlight
            && outbound.byteCount < configuration.maxOutboundBytes / 4
        var events: IOEvents = reading ? .readable : .none
        if writeBlocked && !outbound.isEmpty { events.insert(.writable) }
        loop.modify(self, events: events)
    }

    // MARK: Closing

    private func refuse(_ error: any Error) {
        server.metrics.protocolErrors.increment()
        Self.logger.warning(
            "RPC connection closed: bad frame", ["peer": "\(peer)", "error": "\(error)"])
        close(reason: "protocol error: \(error)")
    }

    /// Closes at once, dropping unwritten replies (loop thread). Idempotent.
    func close(reason: String) {
        guard !isClosed else { return }
        isClosed = true
        loop.deregister(self)
        System.close(fd)
        releaseResources(reason: reason)
    }

    /// Closes a connection that never got registered (loop thread).
    func closeUnregistered() {
        isClosed = true
        System.close(fd)
        configuration.fileLimit.release()
        server.registry.remove(self)
    }

    private func releaseResources(reason: String) {
        _ = reserveBuffer(0)
        outbound.removeAll()
        waiting = []
        configuration.fileLimit.release()
        server.registry.remove(self)
        server.metrics.openConnections.add(-1)
        Self.logger.debug("RPC connection closed", ["peer": "\(peer)", "reason": reason])
    }

    private static var logger: Logger { RPCServer.logger }
}

/// A frame whose `ver` is not a call.
struct RPCFrameRefusal: Error, CustomStringConvertible {
    let ver: Int16
    var description: String { "frame ver \(ver) is not a call (\(RPCWire.callVersion))" }
}

/// The handler's answer to the call in `frame`.
private func runCall(_ frame: Frame, on handler: any RPCHandler) async -> RPCServerReply {
    do {
        let payload = try await handler.handle(method: frame.op, payload: frame.body)
        return RPCServerReply(method: frame.op, seq: frame.seq, outcome: .success(payload))
    } catch {
        return RPCServerReply(method: frame.op, seq: frame.seq, outcome: .failure("\(error)"))
    }
}

/// A handler's answer on its way back to the connection's loop.
struct RPCServerReply: Sendable {
    enum Outcome: Sendable {
        case success([UInt8])
        case failure(String)
    }

    let method: Int32
    let seq: Int32
    let outcome: Outcome
}
