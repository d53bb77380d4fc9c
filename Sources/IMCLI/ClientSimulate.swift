import Foundation
import IMCore

/// `imctl client simulate`: the load generator (design.md §9).
///
/// The clients run in this process on event loops (`SimulationEngine`), or, past the
/// per-process limit, in worker processes (`SimulateWorkers`). This coordinator gathers their
/// counters every 100 ms, prints a progress line each second, starts the pusher once every
/// client has connected or failed, ends after `--duration` (counted from that moment) or on
/// SIGINT/SIGTERM, lets the last pushes arrive, and prints the summary.
enum ClientSimulate {
    static func run(_ context: CommandContext) throws(CommandError) -> Int32 {
        let options = try SimulateOptions.parse(context)
        // The event loops' lifecycle lines would interleave with the progress line. Only for
        // the process's own stderr: a test running the command in-process keeps its logging.
        if context.stderr is FileDescriptorOutput, Logger.level < .warning {
            Logger.configure(level: .warning)
        }
        if context.environment[SimulateWorkers.workerVariable] != nil {
            return try SimulateWorkers.runWorker(options, context: context)
        }

        let pusher = try makePusher(options)
        let stop = context.stop ?? StopSignal.processSignals()
        let shards = try startShards(options, environment: context.environment)
        var coordinator = SimulationCoordinator(
            options: options, shards: shards.list, pusher: pusher, stop: stop,
            progress: context.stderr)
        let result = coordinator.run(workers: shards.workers)

        context.stdout.write(
            options.printsJSON ? SimulateOutput.json(result) : SimulateOutput.table(result))
        guard result.counters.authenticated > 0 else {
            throw .failure("no client could connect: \(result.firstError ?? "unknown reason")")
        }
        return IMCommandLine.ExitCode.success
    }

    /// The pusher for `--push-rate`, after checking that logic answers at all.
    private static func makePusher(_ options: SimulateOptions) throws(CommandError)
        -> RoomPusher?
    {
        guard let rate = options.pushRate, let room = options.room else { return nil }
        let client: LogicHTTPClient
        do {
            client = try LogicHTTPClient(baseURL: options.logicURL)
        } catch {
            throw .failure("invalid --logic: \(error.reason)")
        }
        if let reason = RoomPusher.checkReachable(client) {
            throw .failure("cannot reach logic at \(options.logicURL): \(reason)")
        }
        return RoomPusher(client: client, room: room, rate: rate)
    }

    /// The clients in this process when they fit, else spread over worker processes.
    private static func startShards(
        _ options: SimulateOptions, environment: [String: String]
    ) throws(CommandError) -> (list: [any SimulationShard], workers: Int) {
        let perProcess = SimulateWorkers.clientsPerProcess(environment: environment).limit
        do {
            if options.clients <= perProcess {
                let loops = SimulationEngine.defaultLoopCount
                let plan = try SimulationPlan(
                    options: options, clientCount: options.clients, uidStart: options.uidStart,
                    source: nil, loopCount: loops, ramp: options.ramp.map(Double.init))
                let engine = try SimulationEngine(plan: plan, loopCount: loops)
                engine.start()
                return ([engine], 0)
            }
            let workers = try startWorkers(options, perProcess: perProcess, environment)
            return (workers, workers.count)
        } catch {
            throw .failure(error.description)
        }
    }

    private static func startWorkers(
        _ options: SimulateOptions, perProcess: Int, _ environment: [String: String]
    ) throws(SimulateSetupError) -> [WorkerProcess] {
        let count = (options.clients + perProcess - 1) / perProcess
        let shares = SimulateWorkers.shares(of: options.clients, parts: count)
        var workers: [WorkerProcess] = []
        var uid = options.uidStart
        for (index, share) in shares.enumerated() {
            var arguments = [
                "client", "simulate", "--clients", "\(share)", "--uid-start", "\(uid)",
                "--heartbeat", options.heartbeat.shortDescription,
            ] + options.targetArguments
            if let room = options.room { arguments += ["--room", "\(room)"] }
            if let ramp = options.ramp { arguments += ["--ramp", "\(max(1, ramp / count))"] }

            var workerEnvironment = environment
            workerEnvironment[SimulateWorkers.workerVariable] = "\(index)"
            workerEnvironment[SimulateWorkers.inFlightVariable] =
                "\(max(100, SimulationPlan.defaultMaxInFlight / count))"
            if options.targetIsLoopback {
                workerEnvironment[SimulateWorkers.sourceVariable] =
                    SimulateWorkers.sourceAddress(forWorker: index)
            }
            do {
                workers.append(
                    try WorkerProcess(
                        index: index, clientCount: share, arguments: arguments,
                        environment: workerEnvironment))
            } catch {
                workers.forEach { $0.terminate() }
                throw error
            }
            uid += Int64(share)
        }
        return workers
    }
}

/// The coordinator's loop: watch the shards, print progress, run the pusher, decide the end.
struct SimulationCoordinator {
    let options: SimulateOptions
    let shards: [any SimulationShard]
    let pusher: RoomPusher?
    let stop: StopSignal
    let progress: any CommandOutput

    private static let pollMillis: Int32 = 100
    /// How long the last pushes may take to arrive after the pusher stopped.
    private static let drainLimit: Duration = .seconds(5)
    /// The drain also ends when nothing arrived for this long.
    private static let drainQuiet: Duration = .seconds(2)

    init(
        options: SimulateOptions, shards: [any SimulationShard], pusher: RoomPusher?,
        stop: StopSignal, progress: any CommandOutput
    ) {
        self.options = options
        self.shards = shards
        self.pusher = pusher
        self.stop = stop
        self.progress = progress
    }

    private func gather() -> SimulationSnapshot {
        var total = SimulationSnapshot()
        for shard in shards { total.merge(shard.snapshot()) }
        return total
    }

    mutating func run(workers: Int) -> SimulationResult {
        let start = ContinuousClock.now
        var lastLine = (time: start, snapshot: SimulationSnapshot())
        var settled: (time: ContinuousClock.Instant, snapshot: SimulationSnapshot)?
        var nextLine = start + .seconds(1)

        while !waitOrStop(Self.pollMillis) {
            let now = ContinuousClock.now
            let current = gather()
            if now >= nextLine {
                printProgress(since: start, current, lastLine)
                lastLine = (now, current)
                nextLine += .seconds(1)
            }
            if settled == nil, current.counters.settled >= options.clients {
                settled = (now, current)
                if current.counters.authenticated == 0 { break }  // nothing to measure
                pusher?.start()
            }
            if let settled, let duration = options.duration, now - settled.time >= duration {
                break
            }
        }

        let end = ContinuousClock.now
        if progress.isTerminal { progress.write("\n") }
        let pushes = finishPushing(after: settled?.snapshot)
        let final = gather()
        shards.forEach { $0.stop() }

        let window = settled ?? (start, SimulationSnapshot())
        return SimulationResult(
            clients: options.clients, workers: workers, counters: final.counters,
            latency: final.latency,
            receivedInWindow: final.counters.messages - window.snapshot.counters.messages,
            bytesInWindow: final.counters.bytes - window.snapshot.counters.bytes,
            durationSeconds: Self.seconds(end - window.time), pushes: pushes,
            firstError: final.firstError ?? pushes?.firstError)
    }

    /// Stops the pusher and waits until every accepted push has reached every connected
    /// client, nothing arrives any more, or the drain limit passes.
    private func finishPushing(after settled: SimulationSnapshot?) -> RoomPusher.Counts? {
        guard let pusher else { return nil }
        pusher.stop()
        let pushes = pusher.current
        guard let settled, pushes.sent > 0 else { return pushes }

        let deadline = ContinuousClock.now + Self.drainLimit
        var last = gather().counters
        var lastChange = ContinuousClock.now
        while ContinuousClock.now < deadline {
            // Not interruptible: after Ctrl-C the stop signal stays readable; this is bounded.
            usleep(UInt32(Self.pollMillis) * 1000)
            let snapshot = gather()
            let current = snapshot.counters
            let expected = current.connected * (pushes.sent - pushes.errors)
            // Only our own pushes carry a send time, so other traffic to the clients cannot
            // end the drain early.
            let timed = Int(snapshot.latency.total - settled.latency.total)
            if timed >= expected { break }
            if current.messages != last.messages {
                last = current
                lastChange = .now
            } else if lastChange.duration(to: .now) >= Self.drainQuiet {
                break
            }
        }
        return pushes
    }

    /// Waits `millis`; true when the stop signal fired.
    private func waitOrStop(_ millis: Int32) -> Bool {
        var descriptor = pollfd(fd: stop.fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, millis) > 0
    }

    private func printProgress(
        since start: ContinuousClock.Instant, _ current: SimulationSnapshot,
        _ last: (time: ContinuousClock.Instant, snapshot: SimulationSnapshot)
    ) {
        let now = ContinuousClock.now
        let line = SimulateOutput.progressLine(
            elapsedSeconds: Int(Self.seconds(now - start).rounded()), clients: options.clients,
            current: current, previous: last.snapshot,
            intervalSeconds: Self.seconds(now - last.time))
        progress.write(progress.isTerminal ? "\r\(line)\u{1B}[K" : line + "\n")
    }

    private static func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
