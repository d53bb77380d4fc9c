import Glibc
import IMCore

/// One accepted HTTP connection, confined to the loop that accepted it (its own timer too).
///
/// Reads go through the loop's shared buffer into the parser; only the unparsed rest of a
/// read is kept, and only while the connection is paused. Reading pauses (EPOLLIN off) while
/// `maxInFlightPerConnection` requests are unanswered or a quarter of `maxOutboundBytes` is
/// waiting to be written, so neither handler tasks nor queued responses grow without bound.
///
/// Life: `reading` → (`Connection: close`, a refused request) `finishing` → (last response
/// written, write side shut down) `lingering` → `closed`. A client that half-closes still gets
/// the answers to the requests it sent.
final class HTTPConnection: TimerWheelEntry, FileHandler {
    let fd: Int32
    private let loop: EventLoop
    private let server: HTTPServer
    private let parser: HTTPRequestParser
    private var order = HTTPResponseOrder()
    private var outbound = OutboundQueue()
    private var pendingInput: [UInt8] = []
    /// The request whose `100 Continue` is queued while its body is still being read.
    private var continueSequence: Int?
    private var handlersRunning = 0
    private var state = State.reading
    private var peerClosed = false
    private var writeBlocked = false

    private enum State {
        /// Reading requests.
        case reading
        /// The last request is known; writing the responses still due.
        case finishing
        /// Everything written and our side shut down: reading and discarding until EOF so the
        /// client reads the responses instead of getting a reset.
        case lingering
        case closed
    }

    init(fd: Int32, loop: EventLoop, server: HTTPServer) {
        self.fd = fd
        self.loop = loop
        self.server = server
        parser = HTTPRequestParser(limits: server.configuration.parserLimits)
    }

    private var configuration: HTTPServer.Configuration { server.configuration }
    private static var logger: Logger { HTTPServer.logger }

    /// Registers on the loop and starts the idle timer (loop thread).
    func start() throws {
        try loop.register(self, events: .readable)
        server.metrics.openConnections.add(1)
        rearmIdleTimer()
    }

    // MARK: Events

    func handleEvents(_ events: IOEvents) {
        if events.contains(.error) {
            close(reason: "socket error")
            return
        }
        if events.contains(.writable) { flush() }
        guard state != .closed else { return }

        if events.contains(.readable) {
            readOnce()
        } else if events.contains(.hangup) {
            close(reason: "peer hung up")
        }
    }

    /// Idle too long, a request trickling in too slowly, responses not read, or linger done.
    override func timerExpired() {
        switch state {
        case .closed:
            return
        case .lingering:
            close(reason: "linger timeout")
        case .reading, .finishing:
            guard handlersRunning == 0 else { return rearmIdleTimer() }
            server.metrics.idleCloses.increment()
            close(reason: "idle timeout")
        }
    }

    func loopDidShutdown() {
        guard state != .closed else { return }
        state = .closed
        loop.timers.cancel(self)
        System.close(fd)
        releaseResources(reason: "event loop shut down")
    }

    private func rearmIdleTimer() {
        loop.timers.schedule(self, afterMillis: Self.millis(configuration.idleTimeout))
    }

    private static func millis(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(clamping: seconds) &* 1000 &+ Int(attoseconds / 1_000_000_000_000_000)
    }

    // MARK: Reading

    private func readOnce() {
        let buffer = loop.readBuffer
        let count: Int?
        do {
            count = try System.read(fd, into: buffer)
        } catch {
            close(reason: "read failed: \(error)")
            return
        }

        guard let count else { return }
        if count == 0 { return peerDidClose() }
        // While lingering, input is read only to be thrown away.
        if state == .reading { consume(UnsafeRawBufferPointer(rebasing: buffer[..<count])) }
    }

    /// Whether another request may be parsed now.
    private var canParse: Bool {
        state == .reading && order.inFlight < max(configuration.maxInFlightPerConnection, 1)
            && outbound.byteCount < configuration.maxOutboundBytes / 4
    }

    /// Parses as many requests from `bytes` as the limits allow; keeps the rest for later.
    private func consume(_ bytes: UnsafeRawBufferPointer) {
        let wasMidRequest = parser.isMidRequest
        var offset = 0
        while offset < bytes.count, canParse {
            let step = parser.parse(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            offset += step.consumed
            step.events.forEach(handle)
        }

        if offset < bytes.count, state == .reading {
            pendingInput.append(contentsOf: bytes[offset...])
        }
        // A request has begun: it gets one full idle timeout to arrive, however it trickles.
        if !wasMidRequest && parser.isMidRequest { rearmIdleTimer() }
        updateInterest()
    }

    /// Parses input kept while paused, once there is room again.
    private func resumeParsing() {
        guard !pendingInput.isEmpty, canParse else { return }

        let input = pendingInput
        pendingInput = []
        input.withUnsafeBytes(consume)
    }

    private func handle(_ event: HTTPRequestParser.Event) {
        switch event {
        case .expectContinue:
            let sequence = order.reserve()
            continueSequence = sequence
            order.requestContinue(for: sequence)
            writeReadyResponses()
        case .request(let parsed):
            dispatch(parsed, sequence: takeSequence())
        case .bodyTooLarge:
            refuse(.bodyTooLarge)
        case .malformed(let error):
            refuse(error)
        }
    }

    /// The sequence of the request just read: the one reserved for its `100 Continue`, if any.
    private func takeSequence() -> Int {
        defer { continueSequence = nil }
        return continueSequence ?? order.reserve()
    }

    private func peerDidClose() {
        guard state != .lingering else { return close(reason: "closed after responses") }

        peerClosed = true
        Self.logger.trace("HTTP client half-closed", ["fd": "\(fd)"])
        if let sequence = continueSequence {
            // Its body can no longer arrive; nothing will answer it.
            order.complete(sequence, with: ByteChunk([]), closesConnection: true)
            continueSequence = nil
            writeReadyResponses()
        }
        afterWrite()
    }

    // MARK: Requests and responses

    /// Hands a request to the handler: answered at once when the handler can do that on this
    /// loop, otherwise on a task whose response comes back through `execute`.
    private func dispatch(_ parsed: HTTPParsedRequest, sequence: Int) {
        server.metrics.requests.increment()
        let closes = !parsed.keepAlive
        if closes { finishReading() }

        let announcesKeepAlive = parsed.keepAlive && parsed.versionMinor == 0
        let omitBody = parsed.request.method == "HEAD"
        let handler = server.handler
        if let response = handler.respondImmediately(to: parsed.request, on: loop) {
            let bytes = HTTPResponseWriter.serialize(
                response, closing: closes, announcesKeepAlive: announcesKeepAlive,
                omitBody: omitBody)
            return complete(sequence, bytes, closesConnection: closes)
        }

        handlersRunning += 1
        let connection = LoopConfined(self, on: loop)
        Task {
            let response = await handler.handle(parsed.request)
            let bytes = HTTPResponseWriter.serialize(
                response, closing: closes, announcesKeepAlive: announcesKeepAlive,
                omitBody: omitBody)
            connection.loop.execute {
                connection.value.responseReady(sequence, bytes, closesConnection: closes)
            }
        }
    }

    /// Answers a request the parser refused, then closes.
    private func refuse(_ error: HTTPRequestError) {
        server.metrics.refused.increment()
        Self.logger.debug(
            "HTTP request refused",
            ["fd": "\(fd)", "status": "\(error.status)", "reason": error.message])

        let response = HTTPResponse.failure(status: error.status, error.message)
        let bytes = HTTPResponseWriter.serialize(response, closing: true)
        let sequence = takeSequence()
        finishReading()
        order.complete(sequence, with: bytes, closesConnection: true)
        writeReadyResponses()
    }

    private func finishReading() {
        state = .finishing
        pendingInput = []
    }

    /// A handler task finished (loop thread, via `execute`).
    private func responseReady(_ sequence: Int, _ bytes: ByteChunk, closesConnection: Bool) {
        handlersRunning -= 1
        complete(sequence, bytes, closesConnection: closesConnection)
    }

    /// The response of `sequence` is ready: write it and whatever it was holding back.
    private func complete(_ sequence: Int, _ bytes: ByteChunk, closesConnection: Bool) {
        guard state == .reading || state == .finishing else { return }

        order.complete(sequence, with: bytes, closesConnection: closesConnection)
        writeReadyResponses()
        rearmIdleTimer()
    }

    /// Queues every response that is next in order and asks the loop for a flush.
    private func writeReadyResponses() {
        let hadBacklog = !outbound.isEmpty
        if order.drain({ outbound.append($0) }) { finishReading() }

        if hadBacklog && outbound.byteCount > configuration.maxOutboundBytes {
            server.metrics.slowReaders.increment()
            return close(reason: "client does not read its responses")
        }
        loop.scheduleFlush(self)
    }

    // MARK: Writing

    func flush() {
        guard state != .closed else { return }
        let before = outbound.byteCount

        switch outbound.write(to: fd) {
        case .flushed: writeBlocked = false
        case .wouldBlock: writeBlocked = true
        case .failed(let code): return close(reason: "write failed (errno \(code))")
        }

        if outbound.byteCount < before { rearmIdleTimer() }
        afterWrite()
    }

    /// Moves on once output drained: linger, close, or read more requests.
    private func afterWrite() {
        let allAnswered = outbound.isEmpty && order.inFlight == 0
        if allAnswered && state == .finishing { return startLingering() }
        if allAnswered && peerClosed { return close(reason: "client closed") }

        resumeParsing()
        updateInterest()
    }

    private func startLingering() {
        guard !peerClosed else { return close(reason: "closed after responses") }

        state = .lingering
        _ = shutdown(fd, Int32(SHUT_WR))
        loop.timers.schedule(self, afterMillis: Self.millis(configuration.lingerTimeout))
        updateInterest()
    }

    /// Readable while requests are welcome (or lingering), writable while output is stuck.
    private func updateInterest() {
        guard state != .closed else { return }

        let reading = state == .reading && !peerClosed && pendingInput.isEmpty && canParse
        var events: IOEvents = reading || state == .lingering ? .readable : .none
        if writeBlocked && !outbound.isEmpty { events.insert(.writable) }
        loop.modify(self, events: events)
    }

    // MARK: Closing

    /// Closes at once, dropping whatever is unwritten (loop thread). Idempotent.
    func close(reason: String) {
        guard state != .closed else { return }
        state = .closed
        loop.timers.cancel(self)
        loop.deregister(self)
        System.close(fd)
        releaseResources(reason: reason)
    }

    /// Closes a connection that never got registered (loop thread).
    func closeUnregistered() {
        state = .closed
        System.close(fd)
        configuration.fileLimit.release()
        server.registry.remove(self)
    }

    private func releaseResources(reason: String) {
        outbound.removeAll()
        order.removeAll()
        pendingInput = []
        configuration.fileLimit.release()
        server.registry.remove(self)
        server.metrics.openConnections.add(-1)
        Self.logger.trace("HTTP connection closed", ["fd": "\(fd)", "reason": reason])
    }
}
