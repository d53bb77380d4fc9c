import IMCore
import Testing

@Suite struct ChangeSignalTests {
    @Test func aWaitReturnsAtOnceWhenTheVersionAlreadyDiffers() async {
        let signal = ChangeSignal(version: 5)
        #expect(await signal.wait(whileVersionIs: 4, timeout: .seconds(3600)) == 5)
    }

    /// The hour-long timeout shows that the change, not the clock, ended the wait.
    @Test(.timeLimit(.minutes(1)))
    func aChangeWakesEveryWaiter() async {
        let signal = ChangeSignal(version: 1)
        let waiters = (0..<3).map { _ in
            Task { await signal.wait(whileVersionIs: 1, timeout: .seconds(3600)) }
        }

        signal.set(2)

        for waiter in waiters {
            #expect(await waiter.value == 2)
        }
    }

    @Test func settingTheSameVersionWakesNobody() async {
        let signal = ChangeSignal(version: 1)
        signal.set(1)
        #expect(await signal.wait(whileVersionIs: 1, timeout: .milliseconds(50)) == 1)
    }

    @Test func aWaitWithoutChangeEndsAfterItsTimeout() async {
        let signal = ChangeSignal(version: 7)
        #expect(await signal.wait(whileVersionIs: 7, timeout: .milliseconds(50)) == 7)
    }

    @Test(.timeLimit(.minutes(1)))
    func cancellingAWaiterEndsItsWait() async {
        let signal = ChangeSignal(version: 1)
        let waiter = Task { await signal.wait(whileVersionIs: 1, timeout: .seconds(3600)) }

        waiter.cancel()

        #expect(await waiter.value == 1)
    }
}
