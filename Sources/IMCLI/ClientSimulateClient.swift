import CLinux
import Foundation
import IMCore
import IMNet

/// One simulated goim client: a small state machine on its loop, driven by socket readiness
/// and one timer-wheel entry (handshake deadline, then heartbeats).
///
/// Idle it holds no buffers: reads go into the loop's shared buffer and are parsed in place;
/// only the tail of a partial frame (`leftover`) or unsent bytes (`pendingOutput`) are kept.
/// All methods run on the owning loop's thread.
final class SimulatedClient: TimerWheelEntry, FileHandler {
    enum Phase: UInt8 {
        case connecting, upgrading, authenticating, active, closed
    }

    private(set) var fd: Int32
    private let owner: SimulationLoop
    private let uid: Int64
    private var phase = Phase.connecting
    private var nextSeq: Int32 = 2
    private var leftover: [UInt8] = []
    private var pendingOutput: [UInt8] = []
    /// A fragmented WebSocket message being put together (rare: goim servers send whole ones).
    private var fragments: [UInt8] = []
    private var fragmentOpcode: UInt8 = 0

    private init(fd: Int32, owner: SimulationLoop, uid: Int64) {
        self.fd = fd
        self.owner = owner
        self.uid = uid
    }

    private var plan: SimulationPlan { owner.plan }
    private var loop: EventLoop { owner.loop }

    /// Opens the socket and starts connecting; a failure is counted at once.
    static func launch(uid: Int64, on owner: SimulationLoop) {
        let fd: Int32
        do {
            fd = try openSocket(owner.plan)
        } catch {
            owner.counters.failed += 1
            owner.noteError("\(error)")
            owner.clientSettled()
            return
        }

        let client = SimulatedClient(fd: fd, owner: owner, uid: uid)
        client.connect()
    }

    private static func openSocket(_ plan: SimulationPlan) throws(SystemError) -> Int32 {
        let type =
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
            | Int32(SOCK_CLOEXEC.rawValue)
        let fd = Glibc.socket(AF_INET, type, 0)
        guard fd >= 0 else { throw SystemError.last("socket") }
        guard let source = plan.source else { return fd }

        // Port chosen at connect time per destination, so one source address is not limited
        // to 28k ports across all destinations.
        try? System.setSocketOption(
            fd, level: Int32(IPPROTO_IP), name: clinux_ip_bind_address_no_port(), value: 1,
            label: "IP_BIND_ADDRESS_NO_PORT")
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr = source
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let error = SystemError.last("bind")
            System.close(fd)
            throw error
        }
        return fd
    }

    private func connect() {
        var target = plan.target
        let result = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        let code = result == 0 ? 0 : errno
        guard code == 0 || code == EINPROGRESS else {
            System.close(fd)
            fd = -1
            return settleFailed(SystemError(call: "connect", errno: code).description)
        }

        do {
            try loop.register(self, events: .writable)
        } catch {
            System.close(fd)
            fd = -1
            return settleFailed("\(error)")
        }
        loop.timers.schedule(self, afterMillis: SimulationPlan.handshakeTimeoutMillis)
    }

    // MARK: Events

    func handleEvents(_ events: IOEvents) {
        if phase == .connecting {
            finishConnecting()
            return
        }
        if events.contains(.readable) || events.contains(.hangup) || events.contains(.error) {
            readAvailable()
        }
        if phase != .closed, events.contains(.writable) { flushOutput() }
    }

    /// Heartbeat time, or the handshake deadline.
    override func timerExpired() {
        switch phase {
        case .active:
            sendHeartbeat()
            loop.timers.schedule(self, afterMillis: plan.heartbeatMillis)
        case .connecting:
            fail("connect timed out")
        case .upgrading, .authenticating:
            fail("no auth reply within \(SimulationPlan.handshakeTimeoutMillis / 1000)s")
        case .closed:
            break
        }
    }

    func loopDidShutdown() {
        guard phase != .closed else { return }
        phase = .closed
        System.close(fd)
    }

    private func finishConnecting() {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length) != 0 { code = errno }
        guard code == 0 else { return fail(SystemError(call: "connect", errno: code).description) }

        if plan.options.transport == .tcp {
            phase = .authenticating
            send(Frame(ver: 1, op: Operation.auth, seq: 1, body: plan.token(uid: uid)).encoded)
        } else {
            phase = .upgrading
            send(plan.upgradeRequest)
        }
        updateInterest()
    }

    private func updateInterest() {
        loop.modify(self, events: pendingOutput.isEmpty ? .readable : [.readable, .writable])
    }

    // MARK: Reading

    private func readAvailable() {
        let buffer = loop.readBuffer
        let count: Int
        do {
            guard let read = try System.read(fd, into: buffer) else { return }
            count = read
        } catch {
            return closeAfterError("\(error)")
        }
        guard count > 0 else { return closeAfterError("closed by the server") }

        owner.counters.bytes += count
        do {
            if leftover.isEmpty {
                let bytes = UnsafeRawBufferPointer(rebasing: buffer[..<count])
                let used = try process(bytes)
                if used < count, phase != .closed { leftover = Array(bytes[used...]) }
            } else {
                // Taken out of the client while parsed: `close()` may run meanwhile.
                var pending = leftover
                leftover = []
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                let used = try Self.withBytes(pending) { bytes throws(SimulateWireError) in
                    try process(bytes)
                }
                if used < pending.count, phase != .closed { leftover = Array(pending[used...]) }
            }
        } catch {
            owner.counters.protocolErrors += 1
            closeAfterError(error.reason)
        }
    }

    /// Handles the complete units at the start of `bytes`; returns how many bytes they took.
    private func process(_ bytes: UnsafeRawBufferPointer) throws(SimulateWireError) -> Int {
        var used = 0
        if phase == .upgrading {
            guard let headLength = WebSocketClientHandshake.responseHeadLength(in: bytes) else {
                guard bytes.count <= WebSocketClientHandshake.maxResponseHeadSize else {
                    throw SimulateWireError("WebSocket handshake answer too large")
                }
                return 0
            }
            do {
                try plan.handshake?.verify(responseHead: Array(bytes[..<headLength]))
            } catch {
                throw SimulateWireError("WebSocket handshake failed: \(error)")
            }
            phase = .authenticating
            sendWebSocketRequest(op: Operation.auth, seq: 1, body: plan.token(uid: uid))
            used = headLength
        }

        var tally = ReceiveTally(nowNanos: Self.wallClockNanos())
        let rest = UnsafeRawBufferPointer(rebasing: bytes[used...])
        if plan.options.transport == .tcp {
            used += try SimulateWire.walkFrames(rest, &tally, &owner.latency)
        } else {
            used += try walkWebSocket(rest, &tally)
        }
        apply(tally)
        return used
    }

    private func apply(_ tally: ReceiveTally) {
        owner.counters.messages += tally.messages
        if tally.authReplies > 0, phase == .authenticating {
            phase = .active
            owner.counters.authenticated += 1
            owner.counters.connected += 1
            loop.timers.schedule(self, afterMillis: plan.heartbeatMillis)
            owner.clientSettled()
        }
    }

    /// Walks complete WebSocket frames; returns the bytes they took.
    private func walkWebSocket(_ bytes: UnsafeRawBufferPointer, _ tally: inout ReceiveTally)
        throws(SimulateWireError) -> Int
    {
        var offset = 0
        while phase != .closed, let frame = try SimulateWire.webSocketFrame(in: bytes, at: offset) {
            let payload = UnsafeRawBufferPointer(rebasing: bytes[frame.payload])
            try handleWebSocketFrame(frame, payload, &tally)
            offset = frame.end
        }
        return offset
    }

    private func handleWebSocketFrame(
        _ frame: SimulateWire.WebSocketFrameView, _ payload: UnsafeRawBufferPointer,
        _ tally: inout ReceiveTally
    ) throws(SimulateWireError) {
        switch frame.opcode {
        case SimulateWire.opcodeText, SimulateWire.opcodeBinary:
            guard fragmentOpcode == 0 else {
                throw SimulateWireError("interleaved WebSocket data")
            }
            if frame.isFinal {
                try handleMessage(opcode: frame.opcode, payload, &tally)
            } else {
                fragmentOpcode = frame.opcode
                fragments = Array(payload)
            }
        case SimulateWire.opcodeContinuation:
            guard fragmentOpcode != 0 else { throw SimulateWireError("stray continuation") }
            guard fragments.count + payload.count <= SimulateWire.maxMessageSize else {
                throw SimulateWireError("WebSocket message too large")
            }
            fragments.append(contentsOf: payload)
            guard frame.isFinal else { return }
            let message = fragments
            fragments = []
            let opcode = fragmentOpcode
            fragmentOpcode = 0
            var messageTally = tally
            try Self.withBytes(message) { bytes throws(SimulateWireError) in
                try handleMessage(opcode: opcode, bytes, &messageTally)
            }
            tally = messageTally
        case SimulateWire.opcodePing:
            send(WebSocketEncoder.maskedFrame(.pong, payload: Array(payload)))
        case SimulateWire.opcodePong:
            break
        case SimulateWire.opcodeClose:
            send(WebSocketEncoder.maskedClose(code: WebSocketCloseCode.normalClosure))
            closeAfterError("closed by the server (WebSocket close)")
        default:
            throw SimulateWireError("unknown WebSocket opcode \(frame.opcode)")
        }
    }

    private func handleMessage(
        opcode: UInt8, _ payload: UnsafeRawBufferPointer, _ tally: inout ReceiveTally
    ) throws(SimulateWireError) {
        if opcode == SimulateWire.opcodeText {
            try SimulateWire.walkJSONMessage(payload, &tally, &owner.latency)
        } else {
            let used = try SimulateWire.walkFrames(payload, &tally, &owner.latency)
            guard used == payload.count else {
                throw SimulateWireError("a binary message ends inside a frame")
            }
        }
    }

    // MARK: Writing

    private func sendHeartbeat() {
        let seq = nextSeq
        nextSeq = nextSeq == Int32.max ? 2 : nextSeq + 1
        owner.counters.heartbeats += 1
        if plan.options.transport == .tcp {
            send(Frame(ver: 1, op: Operation.heartbeat, seq: seq).encoded)
        } else {
            sendWebSocketRequest(op: Operation.heartbeat, seq: seq, body: [])
        }
    }

    /// A goim request over WebSocket: JSON text (the body as raw JSON, `{}` when empty) or a
    /// binary TCP-layout frame, masked as a client must.
    private func sendWebSocketRequest(op: Int32, seq: Int32, body: [UInt8]) {
        if plan.options.transport == .webSocketBinary {
            let frame = Frame(ver: 1, op: op, seq: seq, body: body).encoded
            send(WebSocketEncoder.maskedFrame(.binary, payload: frame))
            return
        }
        let bodyText = body.isEmpty ? "{}" : String(decoding: body, as: UTF8.self)
        let text = #"{"ver":1,"op":\#(op),"seq":\#(seq),"body":\#(bodyText)}"#
        send(WebSocketEncoder.maskedFrame(.text, payload: Array(text.utf8)))
    }

    private func send(_ bytes: [UInt8]) {
        guard phase != .closed else { return }
        guard pendingOutput.isEmpty else {
            pendingOutput.append(contentsOf: bytes)
            return
        }
        let written: Int
        do {
            written = try bytes.withUnsafeBytes { try System.write(fd, from: $0) } ?? 0
        } catch {
            return closeAfterError("\(error)")
        }
        if written < bytes.count {
            pendingOutput = Array(bytes[written...])
            updateInterest()
        }
    }

    private func flushOutput() {
        guard !pendingOutput.isEmpty else { return updateInterest() }
        do {
            let written =
                try pendingOutput.withUnsafeBytes { try System.write(fd, from: $0) } ?? 0
            pendingOutput.removeFirst(written)
        } catch {
            return closeAfterError("\(error)")
        }
        if pendingOutput.isEmpty { updateInterest() }
    }

    // MARK: Ending

    /// The connection ended: a failure before the auth reply, a disconnect after it.
    private func closeAfterError(_ reason: String) {
        switch phase {
        case .active:
            owner.counters.connected -= 1
            owner.counters.disconnected += 1
            owner.noteError("disconnected: \(reason)")
            close()
        case .closed:
            break
        default:
            fail(reason)
        }
    }

    private func fail(_ reason: String) {
        guard phase != .closed else { return }
        close()
        settleFailed(reason)
    }

    private func settleFailed(_ reason: String) {
        owner.counters.failed += 1
        owner.noteError(reason)
        owner.clientSettled()
    }

    private func close() {
        phase = .closed
        loop.timers.cancel(self)
        loop.deregister(self)
        System.close(fd)
        leftover = []
        pendingOutput = []
        fragments = []
    }

    /// `body` over the bytes of `array`, keeping the error's type (`withUnsafeBytes` does not).
    private static func withBytes<T>(
        _ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(SimulateWireError) -> T
    ) throws(SimulateWireError) -> T {
        let outcome: Result<T, SimulateWireError> = array.withUnsafeBytes { bytes in
            do throws(SimulateWireError) {
                return .success(try body(bytes))
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    /// Unix time in nanoseconds: what the pusher stamps into its bodies.
    static func wallClockNanos() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
