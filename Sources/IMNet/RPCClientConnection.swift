import CLinux
import Glibc
import IMCore

/// One connection attempt of an `RPCClient`, and the connection it becomes: the socket, the
/// calls sent on it (by seq), the bytes queued for the server and the reply decoder.
///
/// Phases: `resolving` (a host name is looked up off the loop) → `connecting` (non-blocking
/// `connect`, watched for writability) → `connected` → `closed`. Calls made before
/// `connected` wait in the outbound queue. However it ends, every call still pending fails
/// and the core is told, so it can back off and try again. The object is its own
/// connect-timeout timer.
///
/// Loop-confined, except `abandonAfterLoopShutdown`.
final class RPCClientConnection: TimerWheelEntry, FileHandler {
    private(set) var fd: Int32 = -1
    private let core: RPCClientCore
    private var phase = Phase.resolving
    private var pending: [Int32: RPCPendingCall] = [:]
    private var outbound = OutboundQueue()
    private var decoder: FrameDecoder
    private var writeBlocked = false
    private var framesReceived = 0
    private var isProbing = false
    private var isRegistered = false

    private enum Phase {
        case resolving, connecting, connected, closed
    }

    init(core: RPCClientCore) {
        self.core = core
        decoder = FrameDecoder(maxBodySize: core.configuration.maxPayloadSize)
    }

    private var loop: EventLoop { core.loop }
    private var configuration: RPCClient.Configuration { core.configuration }
    private var metrics: RPCClient.Metrics { core.metrics }

    // MARK: Connecting

    /// Starts the attempt, bounded by `connectTimeout`.
    func open() {
        loop.timers.schedule(self, afterMillis: RPCWire.millis(configuration.connectTimeout))

        var numeric = in_addr()
        if inet_pton(AF_INET, core.address.host, &numeric) == 1 {
            openSocket(to: numeric)
        } else {
            resolveThenOpen()
        }
    }

    /// Looks the host name up on a task, so a slow resolver never stalls the loop.
    private func resolveThenOpen() {
        let host = core.address.host
        let connection = LoopConfined(self, on: loop)
        Task.detached {
            let resolved = Result { () throws(SocketAddressError) -> UInt32 in
                try SocketAddress.resolveIPv4(host).s_addr
            }
            await connection.loop.submit {
                if connection.loop.isCurrent {
                    connection.value.resolved(resolved)
                } else {
                    connection.value.abandonAfterLoopShutdown()
                }
            }
        }
    }

    private func resolved(_ result: Result<UInt32, SocketAddressError>) {
        guard phase == .resolving else { return }

        switch result {
        case .success(let address): openSocket(to: in_addr(s_addr: address))
        case .failure(let error): close(reason: "\(error)", failing: .disconnected)
        }
    }

    private func openSocket(to address: in_addr) {
        do {
            fd = try Self.makeSocket()
            try connectAndWatch(address)
        } catch {
            close(reason: "\(error)", failing: .disconnected)
        }
    }

    /// A non-blocking TCP socket with `TCP_NODELAY` and keepalive.
    private static func makeSocket() throws(SystemError) -> Int32 {
        let type =
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
            | Int32(SOCK_CLOEXEC.rawValue)
        let fd = Glibc.socket(AF_INET, type, 0)
        guard fd >= 0 else { throw SystemError.last("socket") }

        try? System.setSocketOption(
            fd, level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1, label: "TCP_NODELAY")
        enableRPCKeepAlive(fd)
        return fd
    }

    /// Starts connecting and registers on the loop: readable when connected at once, else
    /// writable until the outcome is known.
    private func connectAndWatch(_ address: in_addr) throws {
        let code = Self.startConnect(fd, to: address, port: core.address.port)
        guard code == 0 || code == EINPROGRESS else {
            throw SystemError(call: "connect", errno: code)
        }

        try loop.register(self, events: code == 0 ? .readable : .writable)
        isRegistered = true
        phase = .connecting
        if code == 0 { established() }
    }

    /// `connect`: 0 when connected at once, else the errno (`EINPROGRESS`: in progress).
    private static func startConnect(_ fd: Int32, to address: in_addr, port: Int) -> Int32 {
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = UInt16(clamping: port).bigEndian
        socketAddress.sin_addr = address
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)

        while true {
            let result = withUnsafePointer(to: &socketAddress) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, size)
                }
            }
            if result == 0 { return 0 }
            if Glibc.errno != EINTR { return Glibc.errno }
        }
    }

    /// The socket became writable (or failed) while connecting.
    private func finishConnecting() {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length) != 0 { code = Glibc.errno }

        guard code == 0 else {
            return close(
                reason: "\(SystemError(call: "connect", errno: code))", failing: .disconnected)
        }
        established()
    }

    private func established() {
        phase = .connected
        loop.timers.cancel(self)
        core.connectionEstablished(self)
        flush()
    }

    /// The connect timeout.
    override func timerExpired() {
        guard phase == .resolving || phase == .connecting else { return }
        close(reason: "connect timed out", failing: .disconnected)
    }

    // MARK: Calls

    /// Queues `call` with id `seq`, or fails it at once when a limit is reached.
    func send(_ call: RPCPendingCall, seq: Int32) {
        guard phase != .closed else {
            call.finish(.failure(RPCError.disconnected))
            return
        }
        guard pending.count < configuration.maxPendingCalls,
            outbound.byteCount <= configuration.maxOutboundBytes, pending[seq] == nil
        else {
            call.finish(.failure(RPCError.overloaded))
            return
        }

        call.seq = seq
        call.connection = self
        call.framesReceivedAtSend = framesReceived
        pending[seq] = call
        loop.timers.schedule(call, afterMillis: call.timeoutMillis)

        outbound.append(
            RPCWire.frame(
                ver: RPCWire.callVersion, method: call.method, seq: seq, payload: call.payload))
        call.payload = []
        metrics.calls.increment()
        if phase == .connected { loop.scheduleFlush(self) }
    }

    /// Forgets a cancelled call; a reply that still comes is dropped as late.
    func discard(_ call: RPCPendingCall) {
        guard pending[call.seq] === call else { return }
        remove(call)
    }

    /// A call's timer fired.
    func callTimedOut(_ call: RPCPendingCall) {
        guard pending[call.seq] === call else { return }
        remove(call)
        metrics.timeouts.increment()
        call.finish(.failure(RPCError.timeout))

        if call.isProbe {
            close(reason: "server does not answer pings", failing: .disconnected)
        } else if framesReceived == call.framesReceivedAtSend {
            probe()
        }
    }

    /// Pings the server (once at a time) to tell a slow handler from a dead connection.
    private func probe() {
        guard phase == .connected, !isProbing else { return }

        isProbing = true
        let ping = RPCPendingCall(
            method: RPCWire.pingMethod, payload: [],
            timeoutMillis: RPCWire.millis(configuration.callTimeout), isProbe: true)
        send(ping, seq: core.nextSeq())
    }

    private func remove(_ call: RPCPendingCall) {
        pending[call.seq] = nil
        loop.timers.cancel(call)
        call.connection = nil
        if call.isProbe { isProbing = false }
    }

    // MARK: Events

    func handleEvents(_ events: IOEvents) {
        switch phase {
        case .connecting:
            finishConnecting()
        case .connected:
            if events.contains(.error) {
                return close(reason: "socket error", failing: .disconnected)
            }
            if events.contains(.writable) { flush() }
            if events.contains(.readable) {
                readOnce()
            } else if events.contains(.hangup) {
                close(reason: "server hung up", failing: .disconnected)
            }
        case .resolving, .closed:
            break
        }
    }

    private func readOnce() {
        guard phase == .connected else { return }
        let buffer = loop.readBuffer
        let count: Int?
        do {
            count = try System.read(fd, into: buffer)
        } catch {
            return close(reason: "read failed: \(error)", failing: .disconnected)
        }

        guard let count else { return }
        guard count > 0 else { return close(reason: "server closed", failing: .disconnected) }

        do {
            try decoder.decode(UnsafeRawBufferPointer(rebasing: buffer[..<count])) { frame in
                try receive(frame)
            }
        } catch {
            Self.logger.warning(
                "RPC connection closed: bad reply",
                ["address": "\(core.address)", "error": "\(error)"])
            close(reason: "protocol error: \(error)", failing: .protocolError("\(error)"))
        }
    }

    /// Completes the call a reply answers; a reply for no pending call is dropped.
    private func receive(_ frame: Frame) throws(RPCReplyRefusal) {
        framesReceived += 1
        guard let call = pending[frame.seq] else {
            metrics.lateReplies.increment()
            Self.logger.debug(
                "RPC reply for no pending call dropped",
                ["address": "\(core.address)", "seq": "\(frame.seq)", "op": "\(frame.op)"])
            return
        }

        remove(call)
        do {
            call.finish(.success(try Self.payload(of: frame, answering: call)))
        } catch let refusal as RPCReplyRefusal {
            call.finish(.failure(RPCError.protocolError(refusal.description)))
            throw refusal
        } catch {
            metrics.remoteErrors.increment()
            call.finish(.failure(error))
        }
    }

    /// The reply payload, or the server's error as `RPCError.remote`; throws
    /// `RPCReplyRefusal` for a reply that breaks the protocol.
    private static func payload(
        of frame: Frame, answering call: RPCPendingCall
    ) throws -> [UInt8] {
        guard frame.op == call.method else {
            throw RPCReplyRefusal("reply op \(frame.op) to a call of method \(call.method)")
        }

        switch frame.ver {
        case RPCWire.replyVersion:
            return frame.body
        case RPCWire.errorReplyVersion:
            throw RPCError.remote(String(decoding: frame.body, as: UTF8.self))
        default:
            throw RPCReplyRefusal("reply ver \(frame.ver) is not 1 or 2")
        }
    }

    // MARK: Writing

    func flush() {
        guard phase == .connected else { return }

        switch outbound.write(to: fd) {
        case .flushed: writeBlocked = false
        case .wouldBlock: writeBlocked = true
        case .failed(let code):
            return close(
                reason: "\(SystemError(call: "write", errno: code))", failing: .disconnected)
        }
        loop.modify(self, events: writeBlocked ? [.readable, .writable] : .readable)
    }

    // MARK: Closing

    /// Ends the connection (or attempt): pending calls fail with `error`, the core hears of
    /// it. Idempotent.
    func close(reason: String, failing error: RPCError) {
        guard phase != .closed else { return }
        phase = .closed

        loop.timers.cancel(self)
        if isRegistered { loop.deregister(self) }
        if fd >= 0 { System.close(fd) }
        outbound.removeAll()
        failPending(error)
        core.connectionEnded(self, reason: reason)
    }

    func loopDidShutdown() {
        guard phase != .closed else { return }
        phase = .closed

        loop.timers.cancel(self)
        if fd >= 0 { System.close(fd) }
        outbound.removeAll()
        failPending(.closed)
        core.loopDidShutdown()
    }

    /// The loop shut down while the host name was being resolved, so nothing will ever run
    /// here again: fail the queued calls from the calling thread. Safe because the loop
    /// thread is past its last task and never touches this connection's calls again (its
    /// wheel only unlinks their timers, which this does not touch).
    func abandonAfterLoopShutdown() {
        let calls = pending.values
        pending = [:]
        for call in calls {
            call.finish(.failure(RPCError.closed))
        }
    }

    private func failPending(_ error: RPCError) {
        let calls = pending.values
        pending = [:]
        isProbing = false
        for call in calls {
            loop.timers.cancel(call)
            call.connection = nil
            call.finish(.failure(error))
        }
    }

    private static var logger: Logger { RPCClientCore.logger }
}

/// A reply that breaks the protocol (unknown `ver`, wrong method).
struct RPCReplyRefusal: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
