import IMCore
import IMNet

/// Logic keeps the table of comets: comets register when they start and refresh every few
/// seconds; job long-polls the list; a comet that stops refreshing is dropped and its sessions
/// removed from every router.
extension Logic: CometRegistry {
    /// The longest a `comets(after:wait:)` call waits, under the 3 s RPC timeout.
    public static let maxCometListWait: Duration = .seconds(2)

    /// Adds or refreshes a comet. A fresh registration (a comet process that just started)
    /// first removes the sessions an earlier process with the same server id left on the
    /// routers, and fails if any router cannot do so (the comet retries).
    public func register(_ registration: CometRegistration) async throws {
        try Self.validate(registration)
        if registration.fresh {
            let failed = await removeSessions(of: registration.server, on: routerIndexes)
            guard failed.isEmpty else {
                throw CometRegistrationError.cleanupFailed(failed.map { routers.all[$0].name })
            }
        }

        let change = cometTable.record(registration, at: .now)
        metrics.cometRegistrations.increment()
        var details = [
            "comet.id": "\(registration.server)", "rpc": registration.rpcAddress,
            "online": "\(registration.online)",
        ]
        switch change {
        case .added:
            logger.info("comet registered", details)
        case .moved(let previous):
            details["previous"] = previous
            logger.info("comet moved to a new RPC address", details)
        case .refreshed:
            if registration.fresh { logger.info("comet restarted", details) }
        }
    }

    /// A registration job could not use is refused (an RPC error reply to the comet), so it
    /// never reaches the table, the logs or job.
    static func validate(_ registration: CometRegistration) throws(CometRegistrationError) {
        guard registration.server > 0 else {
            throw .invalid("server id \(registration.server) is not 1 or more")
        }
        guard registration.online >= 0 else {
            throw .invalid("online count \(registration.online) is negative")
        }
        guard let address = try? SocketAddress(parsing: registration.rpcAddress),
            address.port > 0
        else {
            let text = registration.rpcAddress.debugDescription
            throw .invalid("RPC address is not HOST:PORT: \(text)")
        }
    }

    public func comets(after generation: UInt64, wait: Duration) async throws -> CometList {
        let wait = min(max(wait, .zero), Self.maxCometListWait)
        await cometTable.signal.wait(whileVersionIs: generation, timeout: wait)
        return cometTable.list()
    }

    /// Registered comets with the online count of their last refresh, by server id.
    public var registeredComets: [(member: CometMember, online: Int)] {
        cometTable.entries().map { ($0.member, $0.online) }
    }

    /// Drops expired comets every `interval` until the task is cancelled (see
    /// `LogicConfiguration.cometExpiry`), and retries the session removals that failed.
    public func runCometExpiry(every interval: Duration = .seconds(1)) async {
        while true {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            await expireComets()
        }
    }

    /// One sweep: drops the comets not refreshed within `cometExpiry`, then removes the
    /// sessions of every dropped comet from each router that still holds them.
    func expireComets(now: ContinuousClock.Instant = .now) async {
        let expired = cometTable.expire(
            before: now - configuration.cometExpiry, routerCount: routers.all.count)
        for entry in expired {
            metrics.cometExpiries.increment()
            logger.warning(
                "comet expired: no refresh in time",
                [
                    "comet.id": "\(entry.member.server)", "rpc": entry.member.rpcAddress,
                    "expiry": configuration.cometExpiry.shortDescription,
                ])
        }

        for cleanup in cometTable.pendingCleanups() {
            let pending = cleanup.routers.filter {
                cometTable.isCleanupPending(server: cleanup.server, router: $0)
            }
            let failed = Set(await removeSessions(of: cleanup.server, on: pending))
            for router in pending where !failed.contains(router) {
                cometTable.cleanupDone(server: cleanup.server, router: router)
            }
        }
    }

    private var routerIndexes: [Int] { Array(routers.all.indices) }

    /// Calls `deleteServer(server)` on the routers at `indexes`, all at once. Returns the
    /// indexes of the routers that failed (counted and logged).
    private func removeSessions(of server: ServerID, on indexes: [Int]) async -> [Int] {
        await withTaskGroup(of: (Int, Result<Int, any Error>).self) { group in
            for index in indexes {
                let router = routers.all[index].client
                group.addTask {
                    do {
                        return (index, .success(try await router.deleteServer(server)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }

            var failed: [Int] = []
            for await (index, result) in group {
                switch result {
                case .success(let removed):
                    metrics.cometSessionsRemoved.increment(by: removed)
                case .failure(let error):
                    failed.append(index)
                    metrics.routerErrors.increment()
                    warnings.warning(
                        "removing a comet's sessions failed",
                        [
                            "router": routers.all[index].name, "comet.id": "\(server)",
                            "error": "\(error)",
                        ])
                }
            }
            return failed.sorted()
        }
    }
}

/// Why logic refused a comet's registration.
public enum CometRegistrationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A fresh registration could not remove the earlier sessions of its server id on these
    /// routers.
    case cleanupFailed([String])
    /// The registration names no comet job could reach.
    case invalid(String)

    public var description: String {
        switch self {
        case .cleanupFailed(let names):
            "cannot remove earlier sessions on router(s) \(names.joined(separator: ", "))"
        case .invalid(let reason):
            "invalid comet registration: \(reason)"
        }
    }
}
