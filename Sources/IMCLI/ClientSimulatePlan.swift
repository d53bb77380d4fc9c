import CLinux
import Foundation
import IMCore
import IMNet

/// The immutable part of a simulation shared by every client of a process: where to connect,
/// from which source address, what to send. Built once; read from every loop.
final class SimulationPlan: Sendable {
    let options: SimulateOptions
    /// The clients this process runs and the first one's user id.
    let clientCount: Int
    let uidStart: Int64
    /// comet's address, resolved once.
    let target: sockaddr_in
    /// The source address to bind before connecting (workers on loopback), else nil.
    let source: in_addr?
    /// Connects in flight (socket opened, auth reply not yet received) per loop.
    let maxInFlightPerLoop: Int
    /// Connects per second per loop; nil: unlimited.
    let rampPerLoop: Double?
    let heartbeatMillis: Int
    /// The WebSocket upgrade request, the same for every client (the key is per run).
    let upgradeRequest: [UInt8]
    let handshake: WebSocketClientHandshake?

    /// How long a client may take from `connect` to its auth reply.
    static let handshakeTimeoutMillis = 10_000
    /// Connects in flight per process when nothing else is said.
    static let defaultMaxInFlight = 1000

    init(
        options: SimulateOptions, clientCount: Int, uidStart: Int64, source: in_addr?,
        loopCount: Int, maxInFlight: Int = defaultMaxInFlight, ramp: Double?
    ) throws(SimulateSetupError) {
        self.options = options
        self.clientCount = clientCount
        self.uidStart = uidStart
        self.target = try Self.resolve(options.host, port: options.port)
        self.source = source
        self.maxInFlightPerLoop = max(1, maxInFlight / loopCount)
        self.rampPerLoop = ramp.map { $0 / Double(loopCount) }
        self.heartbeatMillis = Int(
            options.heartbeat.components.seconds * 1000
                + options.heartbeat.components.attoseconds / 1_000_000_000_000_000)

        if options.transport == .tcp {
            handshake = nil
            upgradeRequest = []
        } else {
            let url = try? WebSocketURL(
                "ws://\(options.webSocketHost.isEmpty ? options.host : options.webSocketHost)"
                    + options.webSocketTarget)
            guard let url else { throw SimulateSetupError("cannot build the WebSocket request") }
            let handshake = WebSocketClientHandshake(url: url)
            self.handshake = handshake
            upgradeRequest = handshake.requestBytes
        }
    }

    /// The first IPv4 address of `host`.
    static func resolve(_ host: String, port: Int) throws(SimulateSetupError) -> sockaddr_in {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let info = list?.pointee, let address = info.ai_addr else {
            let reason = status == 0 ? "no IPv4 address" : String(cString: gai_strerror(status))
            throw SimulateSetupError("cannot resolve '\(host)': \(reason)")
        }
        defer { freeaddrinfo(list) }
        return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
    }

    /// The auth frame's token for `uid`.
    func token(uid: Int64) -> [UInt8] {
        options.token(uid: uid)
    }
}

/// A simulation that cannot start (name resolution, event loops, worker processes); exit 1.
struct SimulateSetupError: Error, Sendable, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// The loop-confined state every client of one event loop shares: counters, latencies, and
/// the launcher that opens this loop's share of the clients at the allowed pace.
///
/// `@unchecked Sendable`: everything mutable is touched only on `loop`'s thread (clients,
/// timers and the snapshot task all run there); other threads only hand it to `loop.execute`.
final class SimulationLoop: TimerWheelEntry, @unchecked Sendable {
    let loop: EventLoop
    let plan: SimulationPlan
    var counters = SimulationCounters()
    var latency = LatencyHistogram()
    var firstError: String?

    /// This loop's clients are `first, first + stride, ...` below `plan.clientCount`.
    private var nextClient: Int
    private let stride: Int
    private var inFlight = 0
    private var launched = 0
    private var startMillis: UInt64 = 0

    init(loop: EventLoop, plan: SimulationPlan, first: Int, stride: Int) {
        self.loop = loop
        self.plan = plan
        self.nextClient = first
        self.stride = stride
    }

    /// Starts launching (on the loop thread).
    func start() {
        startMillis = loop.nowMillis
        launchMore()
    }

    /// What this loop has counted so far (on the loop thread).
    var snapshot: SimulationSnapshot {
        SimulationSnapshot(counters: counters, latency: latency, firstError: firstError)
    }

    /// The launcher's tick: the ramp allows more connects as time passes.
    override func timerExpired() {
        launchMore()
    }

    /// A client's connect attempt ended (authenticated or failed): room for another.
    func clientSettled() {
        inFlight -= 1
        launchMore()
    }

    func noteError(_ reason: String) {
        if firstError == nil { firstError = reason }
    }

    private func launchMore() {
        while nextClient < plan.clientCount, inFlight < plan.maxInFlightPerLoop,
            launched < rampAllowance()
        {
            let index = nextClient
            nextClient += stride
            launched += 1
            inFlight += 1
            SimulatedClient.launch(uid: plan.uidStart + Int64(index), on: self)
        }
        if nextClient < plan.clientCount, inFlight < plan.maxInFlightPerLoop,
            !isScheduled
        {
            loop.timers.schedule(self, afterMillis: 100)  // the ramp holds the rest back
        }
    }

    /// How many clients may have been launched by now.
    private func rampAllowance() -> Int {
        guard let rate = plan.rampPerLoop else { return Int.max }
        let elapsed = Double(loop.nowMillis &- startMillis) / 1000
        return Int(rate * elapsed) + 1
    }
}
