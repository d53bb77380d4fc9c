import Foundation
import IMCore

/// What the TCP and WebSocket sessions of `client connect` share once frames are decoded: the
/// auth deadline, then the heartbeat schedule, and printing the pushes.
struct ClientSessionState {
    let options: ClientConnect.Options
    let context: CommandContext

    private(set) var isAuthenticated = false
    /// When the auth reply is overdue, or once authenticated, when the next heartbeat is due.
    private(set) var deadline: ContinuousClock.Instant
    private var nextSeq: Int32 = 2

    init(options: ClientConnect.Options, context: CommandContext) {
        self.options = options
        self.context = context
        self.deadline = .now + ClientConnect.authTimeout
    }

    /// The first frame a session sends.
    var authFrame: Frame { Frame(ver: 1, op: Operation.auth, seq: 1, body: options.token) }

    /// The heartbeat to send now that the deadline passed; fails when the auth reply never came.
    mutating func heartbeatDue() throws(CommandError) -> Frame {
        guard isAuthenticated else {
            let limit = ClientConnect.authTimeout.shortDescription
            throw .failure("no auth reply from the server within \(limit)")
        }
        let heartbeat = Frame(ver: 1, op: Operation.heartbeat, seq: nextSeq)
        nextSeq = nextSeq == Int32.max ? 1 : nextSeq + 1
        deadline = .now + options.heartbeat
        return heartbeat
    }

    /// Takes the auth reply, then prints each push.
    mutating func handle(_ frame: Frame) throws(CommandError) {
        guard isAuthenticated else {
            guard frame.op == Operation.authReply else {
                throw .failure("unexpected op \(frame.op) before the auth reply")
            }
            isAuthenticated = true
            deadline = .now + options.heartbeat
            context.stderr.write("authenticated\n")
            return
        }
        if frame.op == Operation.push {
            context.stdout.write(PushLine.render(frame, json: options.printsJSON))
        }
    }

    /// Why the session ends when the server closes it.
    var closedByServer: String {
        isAuthenticated
            ? "the server closed the connection" : "authentication refused or connection closed"
    }
}

/// What wakes a `client connect` session.
enum ClientSessionEvent {
    case stopped, deadlinePassed, readable
}

extension ClientByteStream {
    /// Polls this stream and `stop` until one is ready or `deadline` passes.
    func waitForEvent(stop: StopSignal, deadline: ContinuousClock.Instant)
        throws(CommandError) -> ClientSessionEvent
    {
        var descriptors = [
            pollfd(fd: stop.fd, events: Int16(POLLIN), revents: 0),
            pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            let timeout = ClientSocket.milliseconds(until: deadline)
            guard timeout > 0 else { return .deadlinePassed }
            if hasBufferedInput { return .readable }

            let ready = poll(&descriptors, 2, timeout)
            if ready < 0, errno != EINTR {
                throw .failure("poll: \(String(cString: strerror(errno)))")
            }
            if descriptors[0].revents != 0 { return .stopped }
            if descriptors[1].revents != 0 { return .readable }
        }
    }

    /// Reads what is available: the byte count, or nil when nothing was. The end of the stream
    /// fails the session with `closedMessage`.
    func readChunk(into buffer: inout [UInt8], closedMessage: @autoclosure () -> String)
        throws(CommandError) -> Int?
    {
        let result: ClientSocket.ReadResult
        do {
            result = try readAvailable(into: &buffer)
        } catch {
            throw .failure("connection lost: \(error.description)")
        }

        switch result {
        case .wouldBlock: return nil
        case .endOfStream: throw .failure(closedMessage())
        case .bytes(let count): return count
        }
    }
}
