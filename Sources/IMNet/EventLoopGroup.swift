import IMCore
import Synchronization

/// A fixed set of event loops, one thread each. Connections are spread over them with `next()`
/// (or by the kernel, for listeners: one `SO_REUSEPORT` socket per loop).
public final class EventLoopGroup: Sendable {
    /// The loops, indexed by `EventLoop.index`.
    public let loops: [EventLoop]

    private let cursor = Atomic<UInt>(0)
    private static let logger = Logger(label: "imnet.loop")

    /// Creates `loopCount` loops (at least 1; default: one per CPU) without starting them.
    /// Also makes the process ignore `SIGPIPE`, so a write to a closed peer fails with `EPIPE`
    /// instead of killing the server.
    public init(loopCount: Int = System.coreCount) throws {
        System.ignoreBrokenPipeSignal()

        var loops: [EventLoop] = []
        do {
            for index in 0..<max(loopCount, 1) {
                loops.append(try EventLoop(index: index))
            }
        } catch {
            loops.forEach { $0.shutdown() }
            throw error
        }
        self.loops = loops
    }

    /// The loops in turn (round robin), from any thread.
    public func next() -> EventLoop {
        let turn = cursor.wrappingAdd(1, ordering: .relaxed).oldValue
        return loops[Int(turn % UInt(loops.count))]
    }

    /// Starts every loop's thread (`imctl-loop-<index>`). Idempotent; tasks queued before
    /// `start` run once the loop starts.
    public func start() {
        loops.forEach { $0.start() }
        Self.logger.info("event loops started", ["loops": "\(loops.count)"])
    }

    /// Stops every loop and waits for its thread to end. Tasks already queued still run; every
    /// registered handler gets `loopDidShutdown()` on its loop thread. Idempotent. Called from
    /// one of the group's own loops, that loop is only asked to stop (it cannot wait for itself).
    public func shutdown() {
        loops.forEach { $0.shutdown() }
        Self.logger.info("event loops stopped", ["loops": "\(loops.count)"])
    }
}
