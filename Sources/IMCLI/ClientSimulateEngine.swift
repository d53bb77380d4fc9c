import Foundation
import IMNet
import Synchronization

/// A share of the simulated clients whose counters the coordinator reads once in a while:
/// the clients of this process, or a worker process.
protocol SimulationShard: Sendable {
    /// How many clients the shard runs.
    var clientCount: Int { get }
    /// Everything counted so far (cumulative).
    func snapshot() -> SimulationSnapshot
    /// Closes the shard's clients; its final snapshot must be taken before.
    func stop()
}

/// The clients of this process, spread over an event-loop group: client `k` lives on loop
/// `k % loops`. Counters stay on each loop and are gathered by `snapshot()`.
final class SimulationEngine: SimulationShard {
    let clientCount: Int
    private let group: EventLoopGroup
    private let loops: [SimulationLoop]

    /// Event loops for the clients: at most one per core, never more than 4.
    static var defaultLoopCount: Int { min(System.coreCount, 4) }

    init(plan: SimulationPlan, loopCount: Int) throws(SimulateSetupError) {
        let group: EventLoopGroup
        do {
            group = try EventLoopGroup(loopCount: loopCount)
        } catch {
            throw SimulateSetupError("cannot start event loops: \(error)")
        }
        self.group = group
        clientCount = plan.clientCount
        loops = group.loops.map { loop in
            SimulationLoop(
                loop: loop, plan: plan, first: loop.index, stride: group.loops.count)
        }
    }

    /// Starts the loops; each opens its clients at the plan's pace.
    func start() {
        group.start()
        for simulation in loops {
            simulation.loop.execute { simulation.start() }
        }
    }

    /// Gathers every loop's counters (each copies its own on its thread).
    func snapshot() -> SimulationSnapshot {
        let gathered = Mutex(SimulationSnapshot())
        let done = DispatchSemaphore(value: 0)
        for simulation in loops {
            simulation.loop.execute {
                let snapshot = simulation.snapshot
                gathered.withLock { $0.merge(snapshot) }
                done.signal()
            }
        }
        for _ in loops { _ = done.wait(timeout: .now() + 5) }
        return gathered.withLock { $0 }
    }

    /// Stops the loops; every client socket is closed as its loop shuts down.
    func stop() {
        group.shutdown()
    }
}
