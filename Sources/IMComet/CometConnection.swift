import Glibc
import IMCore
import IMNet

/// One client's connection, plain TCP or WebSocket, confined to the event loop that accepted
/// it.
///
/// WebSocket connections carry a `WebSocketTransport` (nil for TCP): the upgrade request is
/// read first (handshaking phase, under the same deadline), then WebSocket messages are turned
/// into the same goim frames and go through the same phase rules as TCP frames; replies and
/// pushes are written in the connection's wire format (`wireFormat`). Connections from a TLS
/// listener carry a `CometTLSLayer`: its handshake runs first (same deadline), then reads
/// decrypt into the same buffer and writes go through the session (`ConnectionLayers` keeps
/// both optional layers in one word).
///
/// Life: handshaking → authenticating → active → closed (see `ConnectionPhase`). Every method
/// runs on the loop thread; logic's answer to the auth frame comes back through
/// `loop.execute`.
///
/// Frames sent right behind the auth frame: reading pauses while logic decides (the kernel
/// buffers whatever the client sends meanwhile), and frames that came in the same read as the
/// auth frame (at most one 64 KiB read) are held and answered, in order, after op 8. So a
/// client may pipeline requests behind its auth frame, as goim's blocking reader allowed.
///
/// Memory (design.md §4.6, target ≤ 512 B of user space per idle authenticated connection):
/// an idle connection owns no buffer. Reads land in the loop's shared `readBuffer`; the
/// `FrameDecoder` keeps bytes only while a frame is half received; the `OutboundQueue` holds
/// references to shared, already encoded `ByteChunk`s only while output is pending (one inline
/// slot, no array for a single push); `heldFrames` is empty except while logic decides. What an
/// idle connection costs is this object, one malloc block of 200 usable bytes (header 16,
/// timer-wheel links 32, decoder 17 → 24, outbound queue 40, the rest small fields;
/// measured by `CometConnectionMemoryTests`), plus its slot in the loop's `sessions`
/// dictionary (24 B, ~32 B at the table's load factor) and one reference each in the loop's
/// open list and its room's list (16 B): about 250 B, half the budget. Kernel socket buffers
/// are not counted. To stay there: keep fields few and small (Int32 slots, one flags byte) and
/// never keep a per-connection buffer past the call that needs it.
final class CometConnection: TimerWheelEntry, FileHandler {
    let fd: Int32
    /// When the connection became active, comet-wide (fills the padding after `fd`).
    var activationOrder: UInt32 = 0

    /// The loop's state: maps, room index and shared settings. Strong, so a late logic answer
    /// can still reach a valid object.
    private let home: CometLoopState

    private(set) var phase: ConnectionPhase = .handshaking
    private var flags: Flags = []

    /// Positions in the loop's open list and in the room's member list (`ConnectionList`).
    fileprivate(set) var openSlot: Int32 = -1
    fileprivate(set) var roomSlot: Int32 = -1

    /// Valid once active.
    private(set) var key = SessionKey(user: 0, seq: 0)
    private(set) var room: RoomID?

    /// Handshake deadline, then heartbeat deadline (loop milliseconds).
    private var deadlineMillis: UInt64 = 0
    /// When pending output last made progress; 0 while nothing is pending.
    private var stalledSinceMillis: UInt64 = 0

    private var decoder: FrameDecoder
    private var outbound = OutboundQueue()
    /// Frames that arrived in the same read as the auth frame, replayed once logic answers.
    private var heldFrames: [Frame] = []
    /// WebSocket and TLS state, in one word so a plain TCP connection pays nothing for them.
    private let layers: ConnectionLayers

    /// - Parameters:
    ///   - webSocket: whether the socket came from the WebSocket listener (it starts with an
    ///     HTTP upgrade request).
    ///   - tls: the session of a socket from a TLS listener (it starts with a TLS handshake).
    init(fd: Int32, home: CometLoopState, webSocket: Bool = false, tls: TLSSession? = nil) {
        self.fd = fd
        self.home = home
        let configuration = home.context.configuration
        self.decoder = FrameDecoder(maxBodySize: configuration.maxBodySize)
        let webSocket =
            webSocket
            ? WebSocketTransport(maxMessageSize: max(configuration.maxWebSocketMessageSize, 0))
            : nil
        self.layers = ConnectionLayers(webSocket: webSocket, tls: tls)
        super.init()
    }

    /// WebSocket state; nil for a TCP connection.
    private var webSocket: WebSocketTransport? { layers.webSocket }
    /// TLS state; nil for a plain connection.
    private var tls: CometTLSLayer? { layers.tls }

    /// The listener's protocol, for the per-protocol connection metrics.
    var listenerProtocol: CometProtocol {
        CometProtocol(webSocket: webSocket != nil, tls: tls != nil)
    }

    /// The format replies and pushes are written in for this connection.
    var wireFormat: WireFormat { webSocket?.wireFormat ?? .tcp }

    private struct Flags: OptionSet {
        let rawValue: UInt8
        /// `scheduleFlush` was called and `flush` has not run yet.
        static let flushScheduled = Flags(rawValue: 1 << 0)
        /// EPOLLOUT is watched because the last write would have blocked.
        static let watchingWritable = Flags(rawValue: 1 << 1)
        /// Either: a flush will happen without scheduling another. A constant, because an
        /// array literal on the delivery path allocates in unoptimized builds.
        static let flushPending: Flags = [.flushScheduled, .watchingWritable]
    }

    override func timerExpired() {
        deadlineReached()
    }

    private var loop: EventLoop { home.loop }
    private var context: CometContext { home.context }
}

// MARK: - Start and stop

extension CometConnection {
    /// Arms the handshake deadline (which also bounds a TLS handshake) and starts watching the
    /// socket.
    func start() throws {
        deadlineMillis = loop.nowMillis &+ context.handshakeMillis
        try loop.register(self, events: .readable)
        armTimer()
        if let tls { advanceHandshake(tls) }
    }

    /// Closes the connection once: leaves the maps and the room, cancels the deadline, closes
    /// the socket, releases its file-limit reservation and tells logic if it was
    /// authenticated. Safe to call from inside any handler of this connection.
    func close(_ reason: CloseReason) {
        guard phase != .closed else { return }

        let wasActive = phase == .active
        sendWebSocketClose(for: reason)
        phase = .closed
        // Counted before the socket closes, so whoever sees the close also sees the count.
        count(reason)
        home.remove(self, wasActive: wasActive)
        loop.timers.cancel(self)
        if reason != .loopStopped { loop.deregister(self) }
        if let tls {
            tls.finish(flushing: webSocket?.endsGracefully == true, &outbound)
            System.close(fd)
            FileLimit.shared.release()
        } else if reason != .loopStopped, webSocket?.endsGracefully == true {
            LingeringClose(fd: fd, loop: loop, outbound: outbound).start()
        } else {
            System.close(fd)
            FileLimit.shared.release()
        }
        releaseQueues()

        if wasActive && reason.notifiesLogic { context.notifyDisconnect(key) }
    }

    /// The loop stopped without `Comet.shutdown()` (it already dropped this handler).
    func loopDidShutdown() {
        close(.loopStopped)
    }

    /// Drops queued output and held frames now rather than when the last reference goes.
    private func releaseQueues() {
        outbound = OutboundQueue()
        heldFrames = []
    }

    private func count(_ reason: CloseReason) {
        context.metrics.connectionsClosed.increment()
        reason.counter(in: context.metrics)?.increment()
        guard context.logger.isEnabled(.debug) else { return }

        var metadata = ["conn.fd": "\(fd)", "reason": "\(reason)"]
        if key.user != 0 || key.seq != 0 { metadata["conn.key"] = "\(key)" }
        context.logger.debug("connection closed", metadata)
    }
}

// MARK: - Timer

extension CometConnection {
    /// The timer fired: close on a passed deadline, else re-arm for the next one.
    fileprivate func deadlineReached() {
        guard phase != .closed else { return }

        let now = loop.nowMillis
        if stalledSinceMillis != 0 && now >= stalledSinceMillis &+ context.writeTimeoutMillis {
            closeAsSlow(.writeTimeout)
        } else if now >= deadlineMillis {
            close(phase.deadlineReason)
        } else {
            armTimer()
        }
    }

    /// Schedules the timer for the earlier of the phase deadline and the write deadline.
    private func armTimer() {
        var due = deadlineMillis
        if stalledSinceMillis != 0 {
            due = min(due, stalledSinceMillis &+ context.writeTimeoutMillis)
        }
        let now = loop.nowMillis
        let delay = due > now ? min(due - now, UInt64(Int32.max)) : 0
        loop.timers.schedule(self, afterMillis: Int(delay))
    }

    private func extendHeartbeat() {
        deadlineMillis = loop.nowMillis &+ context.heartbeatMillis
        armTimer()
    }
}

// MARK: - Reading

extension CometConnection {
    func handleEvents(_ events: IOEvents) {
        if let tls, !tls.session.isHandshakeComplete { return handshakeEvents(events, tls) }

        if events.contains(.writable) || wantsWriteOn(events) {
            writeOutbound()
        }
        switch phase {
        case .handshaking, .active:
            if !events.isDisjoint(with: [.readable, .hangup, .error]) || wantsReadOn(events) {
                readAvailable()
            }
        case .authenticating:
            // Reading is paused while logic decides; only a dead socket is reported here.
            if !events.isDisjoint(with: [.hangup, .error]) { close(.peerClosed) }
        case .closed:
            break
        }
    }

    /// Reads what the socket holds into the loop's shared buffer and decodes it. The loop is
    /// level-triggered, so one read per event is enough unless it filled the whole buffer
    /// (then a few more, to drain a fast sender without starving other connections).
    private func readAvailable() {
        let buffer = loop.readBuffer
        for _ in 0..<CometConnection.readsPerEvent {
            guard phase == .handshaking || phase == .active else { return }
            guard let count = readOnce(into: buffer) else { return }

            consume(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            guard mayHoldMoreInput(afterReading: count, into: buffer) else { return }
        }
        scheduleReadOfBufferedInput()
    }

    /// One read, plain or decrypted: the byte count (at least 1), or nil when there is nothing
    /// more for now or the connection closed.
    private func readOnce(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        if let tls { return readOnce(into: buffer, tls) }

        do {
            guard let count = try System.read(fd, into: buffer) else { return nil }
            guard count > 0 else {
                close(.peerClosed)
                return nil
            }
            return count
        } catch {
            close(.readError(error.errno))
            return nil
        }
    }

    /// A full buffer may leave more in the kernel; a TLS session may hold decrypted bytes.
    private func mayHoldMoreInput(
        afterReading count: Int, into buffer: UnsafeMutableRawBufferPointer
    ) -> Bool {
        if let tls { return tls.hasBufferedInput }
        return count == buffer.count
    }

    private static let readsPerEvent = 4

    /// Thrown from the frame callback to stop decoding once the connection has closed.
    private struct StopDecoding: Error {}

    private func consume(_ input: UnsafeRawBufferPointer) {
        if let webSocket { return consumeWebSocket(input, webSocket) }

        var frames = 0
        do {
            try decoder.decode(input) { frame in
                frames += 1
                try handle(frame)
            }
        } catch is StopDecoding {
            // Already closed by the frame's handler.
        } catch {
            context.logger.debug("malformed frame", ["conn.fd": "\(fd)", "error": "\(error)"])
            close(.malformedFrame)
        }
        context.metrics.framesIn.increment(by: frames)
    }

    private func handle(_ frame: Frame) throws {
        switch phase.action(for: frame.op) {
        case .authenticate: authenticate(frame)
        case .hold: heldFrames.append(frame)
        case .heartbeat:
            extendHeartbeat()
            reply(to: frame, op: Operation.heartbeatReply)
        case .echo: reply(to: frame, op: Operation.sendMessageReply, body: frame.body)
        case .test: reply(to: frame, op: Operation.testReply, body: ReplyEncoding.testBody)
        case .ignore: break
        case .close(let reason): close(reason)
        }
        if phase == .closed { throw StopDecoding() }
    }
}

// MARK: - Authentication

extension CometConnection {
    /// Pauses reading and asks logic about the token; the answer comes back on this loop.
    private func authenticate(_ frame: Frame) {
        phase = .authenticating
        updateInterest()

        let connection = LoopBound(self, on: loop)
        let (logic, server) = (context.logic, context.serverID)
        let (token, ver, seq) = (frame.body, frame.ver, frame.seq)
        Task {
            let outcome: Result<ConnectResult, any Error>
            do {
                outcome = .success(try await logic.connect(server: server, token: token))
            } catch {
                outcome = .failure(error)
            }
            connection.run { $0.authenticated(outcome, ver: ver, seq: seq) }
        }
    }

    private func authenticated(
        _ outcome: Result<ConnectResult, any Error>, ver: Int16, seq: Int32
    ) {
        guard phase == .authenticating else {
            // Closed meanwhile (deadline, shutdown): the session logic just recorded must go.
            if case .success(let result) = outcome { context.notifyDisconnect(result.key) }
            return
        }

        switch outcome {
        case .success(let result):
            activate(result, ver: ver, seq: seq)
        case .failure(ConnectError.refused):
            close(.authRefused)
        case .failure(let error):
            context.reportConnectFailure(error)
            close(.logicUnavailable)
        }
    }

    /// Registers the session before the auth reply is queued, so a push sent after the client
    /// has seen op 8 finds it; then replays held frames and resumes reading.
    private func activate(_ result: ConnectResult, ver: Int16, seq: Int32) {
        key = result.key
        room = result.room
        phase = .active
        home.activate(self)
        extendHeartbeat()
        reply(ver: ver, seq: seq, op: Operation.authReply)
        context.logger.debug("connection authenticated", ["conn.key": "\(key)", "conn.fd": "\(fd)"])

        replayHeldFrames()
        guard phase == .active else { return }

        updateInterest()
        readAvailable()
    }

    private func replayHeldFrames() {
        let frames = heldFrames
        heldFrames = []
        for frame in frames {
            guard (try? handle(frame)) != nil else { return }
        }
    }

    /// Whether this connection was activated before activation number `order`; wrapping
    /// arithmetic keeps it right across the counter's overflow.
    func wasActivated(before order: UInt32) -> Bool {
        Int32(bitPattern: activationOrder &- order) < 0
    }

    /// Closes an older connection that a newer one with the same key replaced.
    func replaced() {
        context.logger.log(
            .notice, "newer connection with the same key replaces this one",
            ["conn.key": "\(key)", "conn.fd": "\(fd)"])
        close(.duplicateKey)
    }
}

// MARK: - Writing

extension CometConnection {
    /// Queues `chunk` (a push or a reply) and arranges a flush. Returns false, queuing
    /// nothing, when it would take the queue past the outbound limit; the caller then closes
    /// the connection. A chunk larger than the limit still goes to a connection with nothing
    /// pending, so one big push does not cut every client.
    func enqueue(_ chunk: ByteChunk) -> Bool {
        let pending = outbound.byteCount
        guard pending == 0 || pending + chunk.count <= context.outboundLimit else {
            return false
        }

        outbound.append(chunk)
        if flags.isDisjoint(with: .flushPending) {
            flags.insert(.flushScheduled)
            loop.scheduleFlush(self)
        }
        return true
    }

    /// Closes the connection as a slow client (`.outboundLimit` or `.writeTimeout`), with a
    /// rate-limited warning naming it.
    func closeAsSlow(_ reason: CloseReason = .outboundLimit) {
        let metadata = [
            "conn.key": "\(key)", "reason": "\(reason)", "pending": "\(outbound.byteCount)",
        ]
        context.warnings.warning("slow client disconnected", metadata)
        close(reason)
    }

    private func reply(to request: Frame, op: Int32, body: [UInt8] = []) {
        reply(ver: request.ver, seq: request.seq, op: op, body: body)
    }

    private func reply(ver: Int16, seq: Int32, op: Int32, body: [UInt8] = []) {
        let chunk: ByteChunk
        if let mode = webSocket?.mode {
            chunk = GoimWebSocket.reply(Frame(ver: ver, op: op, seq: seq, body: body), mode: mode)
        } else {
            chunk = ReplyEncoding.frame(ver: ver, op: op, seq: seq, body: body)
        }
        guard enqueue(chunk) else { return closeAsSlow() }
        context.metrics.repliesOut.increment()
    }

    func flush() {
        flags.remove(.flushScheduled)
        writeOutbound()
        if tls?.hasBufferedInput == true { readAvailable() }
    }

    /// Writes what is queued in one `writev`; watches EPOLLOUT while the socket is full and
    /// starts the write deadline when output stops making progress.
    private func writeOutbound() {
        guard phase != .closed, !outbound.isEmpty else { return }

        let pendingBefore = outbound.byteCount
        switch writeQueued() {
        case .flushed:
            stalledSinceMillis = 0
            setWatchingWritable(false)
        case .wouldBlock:
            noteBlockedWrite(progressed: outbound.byteCount < pendingBefore)
        case .failed(let code):
            close(.writeError(code))
        }
    }

    private func noteBlockedWrite(progressed: Bool) {
        // A TLS write waiting for readability must not watch writable: it would spin.
        setWatchingWritable(tls?.writeWantsRead != true)
        if stalledSinceMillis == 0 {
            stalledSinceMillis = loop.nowMillis
            armTimer()
        } else if progressed {
            // The timer fires at the old due time, sees the newer progress, and re-arms.
            stalledSinceMillis = loop.nowMillis
        }
    }

    private func setWatchingWritable(_ watching: Bool) {
        guard flags.contains(.watchingWritable) != watching else { return }

        if watching { flags.insert(.watchingWritable) } else { flags.remove(.watchingWritable) }
        updateInterest()
    }

    /// Watches readable unless waiting for logic, and writable while output is blocked.
    private func updateInterest() {
        var events: IOEvents = []
        if phase != .authenticating { events.insert(.readable) }
        if flags.contains(.watchingWritable) { events.insert(.writable) }
        if let tls { events.formUnion(tls.extraInterest) }
        loop.modify(self, events: events)
    }
}

// MARK: - List membership

extension CometConnection {
    func slot(_ kind: ConnectionList.Slot) -> Int32 {
        kind == .open ? openSlot : roomSlot
    }

    func setSlot(_ kind: ConnectionList.Slot, _ value: Int32) {
        if kind == .open { openSlot = value } else { roomSlot = value }
    }
}

// MARK: - WebSocket

extension CometConnection {
    /// Reads the upgrade request, then decodes WebSocket frames into goim requests.
    private func consumeWebSocket(
        _ input: UnsafeRawBufferPointer, _ webSocket: WebSocketTransport
    ) {
        guard webSocket.isUpgraded else { return upgrade(input, webSocket) }

        var messages = 0
        do {
            try webSocket.decoder.decode(input) { event in
                messages += 1
                try handle(event, webSocket)
            }
        } catch is StopDecoding {
            // Already closed by the message's handler.
        } catch let error as WebSocketError {
            closeWebSocket(error, webSocket)
        } catch {
            closeWebSocket(
                WebSocketError(closeCode: WebSocketCloseCode.internalError, reason: "internal"),
                webSocket)
        }
        context.metrics.framesIn.increment(by: messages)
    }

    private func upgrade(_ input: UnsafeRawBufferPointer, _ webSocket: WebSocketTransport) {
        switch webSocket.upgrade(with: input) {
        case .needMoreBytes:
            return
        case .refused(let error):
            context.logger.debug(
                "WebSocket upgrade refused", ["conn.fd": "\(fd)", "error": "\(error)"])
            outbound.append(ByteChunk(error.responseBytes))
            webSocket.endsGracefully = true
            close(.upgradeRefused(error.status))
        case .upgraded(let response, let framesOffset):
            guard enqueue(ByteChunk(response)) else { return close(.outboundLimit) }
            guard framesOffset < input.count else { return }
            consumeWebSocket(UnsafeRawBufferPointer(rebasing: input[framesOffset...]), webSocket)
        }
    }

    private func handle(_ event: WebSocketEvent, _ webSocket: WebSocketTransport) throws {
        switch event {
        case .text, .binary:
            let maxBodySize = context.configuration.maxBodySize
            if let frame = try webSocket.request(from: event, maxBodySize: maxBodySize) {
                try handle(frame)
            }
        case .ping(let payload):
            guard enqueue(WebSocketEncoder.pong(payload)) else {
                closeAsSlow()
                throw StopDecoding()
            }
        case .pong:
            break
        case .close(let code, _):
            // Echo the peer's code (an empty close for an empty one), then end.
            let payload = code.map { WebSocketEncoder.closePayload(code: $0, reason: "") } ?? []
            queueFinalWebSocketFrame(
                payload.withUnsafeBytes { WebSocketEncoder.frame(.close, payload: $0) })
            close(.peerClosed)
            throw StopDecoding()
        }
    }

    /// Sends a close frame for a broken rule, then closes.
    private func closeWebSocket(_ error: WebSocketError, _ webSocket: WebSocketTransport) {
        context.logger.debug(
            "WebSocket client broke a rule", ["conn.fd": "\(fd)", "error": "\(error)"])
        queueFinalWebSocketFrame(
            WebSocketEncoder.close(code: error.closeCode, reason: error.reason))
        close(.webSocketError(error.closeCode))
    }

    /// On an upgraded WebSocket, queues the close frame `reason` calls for, unless one is
    /// already queued.
    private func sendWebSocketClose(for reason: CloseReason) {
        guard let webSocket, webSocket.isUpgraded, !webSocket.endsGracefully,
            let code = reason.webSocketCloseCode
        else { return }
        queueFinalWebSocketFrame(WebSocketEncoder.close(code: code, reason: "\(reason)"))
    }

    /// Queues the last frame (past the outbound limit if need be: it is tiny) and makes the
    /// close linger so the peer can read it.
    private func queueFinalWebSocketFrame(_ frame: ByteChunk) {
        guard let webSocket, !webSocket.endsGracefully else { return }

        outbound.append(frame)
        webSocket.endsGracefully = true
    }
}

// MARK: - TLS

extension CometConnection {
    /// Before the TLS handshake completes, every event only moves it on; a dead socket ends it.
    private func handshakeEvents(_ events: IOEvents, _ tls: CometTLSLayer) {
        guard phase == .handshaking else { return }

        advanceHandshake(tls)
        guard phase == .handshaking, !tls.session.isHandshakeComplete else { return }
        if !events.isDisjoint(with: [.hangup, .error]) { close(.peerClosed) }
    }

    /// Moves the handshake on and watches what it waits for; once done, reads what the client
    /// sent behind it (possibly already decrypted inside the session).
    private func advanceHandshake(_ tls: CometTLSLayer) {
        switch tls.session.handshake() {
        case .done:
            updateInterest()
            readAvailable()
        case .wantRead:
            loop.modify(self, events: .readable)
        case .wantWrite:
            loop.modify(self, events: .writable)
        case .failed(let error):
            context.logger.debug(
                "TLS handshake failed", ["conn.fd": "\(fd)", "error": error.message])
            close(.tlsHandshakeFailed)
        }
    }

    /// A TLS write waits for readability and the socket is readable.
    private func wantsWriteOn(_ events: IOEvents) -> Bool {
        tls?.writeWantsRead == true && events.contains(.readable)
    }

    /// A TLS read waits for writability and the socket is writable.
    private func wantsReadOn(_ events: IOEvents) -> Bool {
        tls?.readWantsWrite == true && events.contains(.writable)
    }

    private func readOnce(into buffer: UnsafeMutableRawBufferPointer, _ tls: CometTLSLayer)
        -> Int?
    {
        let interestBefore = tls.extraInterest
        defer {
            if phase != .closed && tls.extraInterest != interestBefore { updateInterest() }
        }

        switch tls.read(into: buffer) {
        case .bytes(let count):
            return count
        case .wouldBlock:
            return nil
        case .closed:
            close(.peerClosed)
            return nil
        case .failed(let error):
            context.logger.debug("TLS read failed", ["conn.fd": "\(fd)", "error": error.message])
            close(.readError(EPROTO))
            return nil
        }
    }

    /// The loop will not report bytes already decrypted inside the session: come back for them
    /// in `flush()`, after the loop's other connections had their turn.
    private func scheduleReadOfBufferedInput() {
        guard let tls, tls.hasBufferedInput, phase == .handshaking || phase == .active else {
            return
        }
        flags.insert(.flushScheduled)
        loop.scheduleFlush(self)
    }

    /// Writes the queue to the socket, through the session on a TLS connection.
    private func writeQueued() -> OutboundQueue.WriteResult {
        guard let tls else { return outbound.write(to: fd) }

        let interestBefore = tls.extraInterest
        let result = tls.write(&outbound)
        if tls.extraInterest != interestBefore { updateInterest() }
        return result
    }
}
