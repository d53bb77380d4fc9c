import Foundation
import IMCore
import Synchronization

/// `--push-rate`: room pushes through logic's HTTP API at a steady rate, each body stamped
/// with its send time (`SimulateWire.pushBody`) so the clients can measure latency.
///
/// One thread with a few keep-alive connections, one request in flight on each; push `n` is
/// due at `start + n / rate`. A push that finds every connection busy waits for the next
/// free one, and a pusher more than a second behind skips ahead rather than bursting.
final class RoomPusher: Sendable {
    struct Counts: Sendable, Equatable {
        /// Requests sent.
        var sent = 0
        /// Requests that failed: no connection, HTTP status not 2xx, no answer in time.
        var errors = 0
        /// Pushes skipped because logic could not keep up with the rate.
        var skipped = 0
        var firstError: String?
    }

    private let client: LogicHTTPClient
    private let room: Int32
    private let rate: Int
    private let counts = Mutex(Counts())
    private let stopRequested = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// How long a request may wait for its answer before it counts as an error.
    static let requestTimeout: Duration = .seconds(10)

    init(client: LogicHTTPClient, room: Int32, rate: Int) {
        self.client = client
        self.room = room
        self.rate = rate
    }

    /// Whether logic accepts connections; the reason when it does not.
    static func checkReachable(_ client: LogicHTTPClient) -> String? {
        do {
            _ = try ClientSocket.connect(
                host: client.host, port: client.port, deadline: .now + .seconds(3))
            return nil
        } catch {
            return error.description
        }
    }

    var current: Counts { counts.withLock { $0 } }

    func start() {
        Thread.detachNewThread { [self] in
            run()
            finished.signal()
        }
    }

    /// Stops sending and waits (a few seconds at most) for the answers still expected.
    func stop() {
        stopRequested.store(true, ordering: .relaxed)
        _ = finished.wait(timeout: .now() + 15)
    }

    /// At least 4, so one slow answer (logic busy behind a large room) does not stall the
    /// rate; one more per 100 pushes/s, at most 16.
    private var connectionCount: Int { max(4, min(16, (rate + 99) / 100)) }

    private func run() {
        var connections = (0..<connectionCount).map { _ in PusherConnection() }
        let interval = 1.0 / Double(rate)
        let start = ContinuousClock.now
        var sequence = 0
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)

        while !stopRequested.load(ordering: .relaxed) {
            let elapsed = Self.seconds(since: start)
            let due = Int(elapsed / interval) + 1
            if due - sequence > rate {  // more than a second behind: skip ahead
                counts.withLock { $0.skipped += due - sequence - 1 }
                sequence = due - 1
            }
            while sequence < due, let free = connections.firstIndex(where: { !$0.isBusy }) {
                sequence += 1
                send(sequence, on: &connections[free])
            }

            let nextDue = Double(sequence) * interval - Self.seconds(since: start)
            let waitMillis = Int32(max(0, min(100, (nextDue * 1000).rounded(.up))))
            waitForAnswers(&connections, &buffer, timeoutMillis: waitMillis)
        }

        let deadline = ContinuousClock.now + .seconds(5)
        while connections.contains(where: \.isBusy), ContinuousClock.now < deadline {
            waitForAnswers(&connections, &buffer, timeoutMillis: 100)
        }
        for index in connections.indices where connections[index].isBusy {
            fail(&connections[index], "no answer from logic before the end of the run")
        }
    }

    private static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = start.duration(to: .now).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }

    // MARK: Requests

    private func requestBytes(sequence: Int) -> [UInt8] {
        let body = SimulateWire.pushBody(
            sequence: sequence, sentNanos: SimulatedClient.wallClockNanos())
        let hostHeader = client.host.contains(":") ? "[\(client.host)]:\(client.port)"
            : "\(client.host):\(client.port)"
        let head =
            "POST \(client.basePath)/1/push/room?rid=\(room) HTTP/1.1\r\n"
            + "Host: \(hostHeader)\r\nUser-Agent: imctl-simulate\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        return Array(head.utf8) + body
    }

    private func send(_ sequence: Int, on connection: inout PusherConnection) {
        counts.withLock { $0.sent += 1 }
        send(requestBytes(sequence: sequence), on: &connection)
    }

    private func send(_ request: [UInt8], on connection: inout PusherConnection) {
        do {
            try connection.send(request, client: client)
        } catch {
            fail(&connection, error.description)
        }
    }

    private func waitForAnswers(
        _ connections: inout [PusherConnection], _ buffer: inout [UInt8], timeoutMillis: Int32
    ) {
        let busy = connections.indices.filter { connections[$0].isBusy }
        guard !busy.isEmpty else {
            if timeoutMillis > 0 { usleep(UInt32(timeoutMillis) * 1000) }
            return
        }

        var descriptors = busy.map {
            pollfd(fd: connections[$0].fd, events: Int16(POLLIN), revents: 0)
        }
        _ = poll(&descriptors, nfds_t(descriptors.count), timeoutMillis)
        for (slot, index) in busy.enumerated() {
            if descriptors[slot].revents != 0 {
                receive(&connections[index], &buffer)
            } else if connections[index].hasTimedOut {
                fail(&connections[index], "no answer from logic within 10s")
            }
        }
    }

    private func receive(_ connection: inout PusherConnection, _ buffer: inout [UInt8]) {
        switch connection.receive(&buffer) {
        case .pending:
            break
        case .answered(let status, let body):
            guard (200..<300).contains(status) else {
                let text = String(decoding: body.prefix(200), as: UTF8.self)
                return recordError("logic answered HTTP \(status): \(text)")
            }
        case .closedBeforeAnswer(let request, let wasReused):
            // A kept-alive connection the server closed meanwhile fails on first use: such a
            // request is sent once more on a new connection.
            connection.reset()
            if wasReused {
                send(request, on: &connection)
            } else {
                recordError("logic closed the connection before answering")
            }
        case .failed(let reason):
            fail(&connection, reason)
        }
    }

    private func fail(_ connection: inout PusherConnection, _ reason: String) {
        connection.reset()
        recordError(reason)
    }

    private func recordError(_ reason: String) {
        counts.withLock { counts in
            counts.errors += 1
            if counts.firstError == nil { counts.firstError = reason }
        }
    }
}

/// One keep-alive HTTP connection of the pusher with at most one request in flight.
private struct PusherConnection {
    private var socket: ClientSocket?
    private var parser = HTTPResponseParser(maxBody: 64 * 1024)
    private var sentAt: ContinuousClock.Instant?
    private var request: [UInt8] = []
    /// Whether the connection carried a request before the current one.
    private var wasReused = false

    enum Outcome {
        case pending
        case answered(status: Int, body: [UInt8])
        /// The server closed the connection without a byte of answer.
        case closedBeforeAnswer(request: [UInt8], wasReused: Bool)
        case failed(String)
    }

    var isBusy: Bool { sentAt != nil }
    var fd: Int32 { socket?.fd ?? -1 }

    var hasTimedOut: Bool {
        guard let sentAt else { return false }
        return sentAt.duration(to: .now) > RoomPusher.requestTimeout
    }

    mutating func send(_ request: [UInt8], client: LogicHTTPClient) throws(SocketError) {
        if socket == nil {
            socket = try ClientSocket.connect(
                host: client.host, port: client.port, deadline: .now + .seconds(3))
            wasReused = false
        }
        try socket!.send(request, deadline: .now + .seconds(3))
        self.request = request
        sentAt = .now
        parser = HTTPResponseParser(maxBody: 64 * 1024)
    }

    mutating func receive(_ buffer: inout [UInt8]) -> Outcome {
        guard let socket else { return .failed("not connected") }
        do {
            switch try socket.readAvailable(into: &buffer) {
            case .wouldBlock:
                return .pending
            case .endOfStream:
                guard parser.buffer.isEmpty else {
                    return .failed("logic closed the connection in the middle of an answer")
                }
                return .closedBeforeAnswer(request: request, wasReused: wasReused)
            case .bytes(let count):
                parser.append(buffer[..<count])
                guard let response = try parser.response(atEndOfStream: false) else {
                    return .pending
                }
                sentAt = nil
                wasReused = true
                return .answered(status: response.status, body: response.body)
            }
        } catch {
            return .failed(error.description)
        }
    }

    /// Drops the connection; the next request opens a new one.
    mutating func reset() {
        socket = nil
        sentAt = nil
        wasReused = false
    }
}
