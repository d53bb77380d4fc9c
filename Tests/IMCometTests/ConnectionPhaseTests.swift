import IMCore
import Testing

@testable import IMComet

@Suite struct ConnectionPhaseTests {
    @Test(arguments: [Operation.auth, Operation.heartbeat, Operation.handshake, 99])
    func handshakeAcceptsOnlyAuth(op: Int32) {
        let expected: FrameAction = op == Operation.auth ? .authenticate : .close(.notAuthenticated)
        #expect(ConnectionPhase.handshaking.action(for: op) == expected)
    }

    @Test func framesWaitWhileLogicDecides() {
        #expect(ConnectionPhase.authenticating.action(for: Operation.heartbeat) == .hold)
        #expect(ConnectionPhase.authenticating.action(for: 99) == .hold)
    }

    @Test func activeConnectionServesGoimsThreeOperations() {
        #expect(ConnectionPhase.active.action(for: Operation.heartbeat) == .heartbeat)
        #expect(ConnectionPhase.active.action(for: Operation.sendMessage) == .echo)
        #expect(ConnectionPhase.active.action(for: Operation.test) == .test)
    }

    @Test(arguments: [Operation.auth, Operation.handshake, Operation.raw, Operation.push, 1000])
    func activeConnectionClosesOnAnyOtherOperation(op: Int32) {
        #expect(ConnectionPhase.active.action(for: op) == .close(.invalidOperation))
    }

    @Test func closedConnectionIgnoresFrames() {
        #expect(ConnectionPhase.closed.action(for: Operation.heartbeat) == .ignore)
    }

    @Test func deadlineMeansHeartbeatOnlyOnceActive() {
        #expect(ConnectionPhase.handshaking.deadlineReason == .handshakeTimeout)
        #expect(ConnectionPhase.authenticating.deadlineReason == .handshakeTimeout)
        #expect(ConnectionPhase.active.deadlineReason == .heartbeatTimeout)
    }

    @Test func replacedOrShutdownConnectionsDoNotTellLogicThemselves() {
        #expect(!CloseReason.duplicateKey.notifiesLogic)
        #expect(!CloseReason.shutdown.notifiesLogic)
        #expect(CloseReason.heartbeatTimeout.notifiesLogic)
        #expect(CloseReason.loopStopped.notifiesLogic)
    }

    @Test func durationsBecomeClampedMilliseconds() {
        #expect(Duration.milliseconds(1500).clampedMilliseconds == 1500)
        #expect(Duration.seconds(-3).clampedMilliseconds == 0)
        #expect(Duration.seconds(Int64.max).clampedMilliseconds == Int(Int32.max))
    }
}
