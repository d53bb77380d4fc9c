import IMCore

/// How pushes become dispatch messages: router lookups in parallel, keys grouped by comet,
/// and every message handed to the queue.
extension Logic {
    typealias RouterFailure = (name: String, error: any Error)

    struct SessionLookup {
        var sessions: [UserID: [SessionRecord]]
        var failures: [RouterFailure]
        var routersAsked: Int
    }

    /// Publishes one `multiple` message per comet holding sessions of `users`. Users on a
    /// failing router are skipped; the others are still pushed, then the failure is a 503.
    func push(_ body: [UInt8], to users: [UserID]) async throws {
        let lookup = await lookUpSessions(of: users)

        try await publish(
            Self.messagesByServer(users: users, sessions: lookup.sessions, body: body))

        guard !lookup.failures.isEmpty else { return }
        let failed = describe(lookup.failures, during: "sessions")
        let someRoutersAnswered = lookup.failures.count < lookup.routersAsked
        let others = someRoutersAnswered ? "; users on other routers were pushed" : ""
        throw LogicRequestError.unavailable("could not look up sessions: \(failed)\(others)")
    }

    /// The sessions of `users`, asking each router about its own users, all routers at once.
    func lookUpSessions(of users: [UserID]) async -> SessionLookup {
        let jobs = routers.partition(users).sorted { $0.key < $1.key }
        let results = await Self.inParallel(jobs.count) { [routers] index in
            try await routers.all[jobs[index].key].client.sessions(of: jobs[index].value)
        }

        var sessions: [UserID: [SessionRecord]] = [:]
        var failures: [RouterFailure] = []
        for (job, result) in zip(jobs, results) {
            switch result {
            case .success(let found):
                routerAnswered()
                sessions.merge(found) { first, _ in first }
            case .failure(let error): failures.append((routers.all[job.key].name, error))
            }
        }
        return SessionLookup(sessions: sessions, failures: failures, routersAsked: jobs.count)
    }

    /// One `multiple` message per server, servers ascending; keys in the order of `users`,
    /// then by sequence number.
    static func messagesByServer(
        users: [UserID], sessions: [UserID: [SessionRecord]], body: [UInt8]
    ) -> [DispatchMessage] {
        var keysByServer: [ServerID: [SessionKey]] = [:]
        for user in users {
            for record in (sessions[user] ?? []).sorted(by: { $0.seq < $1.seq }) {
                keysByServer[record.server, default: []].append(
                    SessionKey(user: user, seq: record.seq))
            }
        }
        return keysByServer.keys.sorted().map { server in
            .multiple(server: server, keys: keysByServer[server] ?? [], body: body)
        }
    }

    /// Hands every message to the queue at once. Any refusal is a 503 naming the queue's
    /// reason (and how many of the messages did get through).
    func publish(_ messages: [DispatchMessage]) async throws {
        let results = await Self.inParallel(messages.count) { [publisher] index in
            try await publisher.publish(messages[index])
        }
        try countPublished(messages.count, results)
    }

    /// Counts the outcome of publishing `total` messages; a 503 if any was refused.
    func countPublished(
        _ total: Int, _ results: [Result<Void, any Error>]
    ) throws(LogicRequestError) {
        let errors = results.compactMap { result -> (any Error)? in
            if case .failure(let error) = result { return error }
            return nil
        }
        metrics.messagesPublished.increment(by: total - errors.count)
        guard let error = errors.first else { return }

        metrics.publishFailures.increment(by: errors.count)
        warnings.warning("dispatch queue refused a message", ["error": "\(error)"])
        let queued = total - errors.count
        let partial = queued > 0 ? "; \(queued) of \(total) messages were queued" : ""
        throw LogicRequestError.unavailable(Self.describeQueueError(error) + partial)
    }

    /// Runs `call` on every router at once; the results in router order, or a 503 naming every
    /// router that failed.
    func onEveryRouter<T: Sendable>(
        _ what: String, _ call: @escaping @Sendable (any RouterClient) async throws -> T
    ) async throws -> [T] {
        let results = await Self.inParallel(routers.all.count) { [routers] index in
            try await call(routers.all[index].client)
        }

        var values: [T] = []
        var failures: [RouterFailure] = []
        for (router, result) in zip(routers.all, results) {
            switch result {
            case .success(let value):
                routerAnswered()
                values.append(value)
            case .failure(let error): failures.append((router.name, error))
            }
        }
        guard failures.isEmpty else {
            throw LogicRequestError.unavailable(
                "could not \(what): \(describe(failures, during: what))")
        }
        return values
    }

    /// Counts and logs router failures, and names them for an error message.
    func describe(_ failures: [RouterFailure], during call: String) -> String {
        metrics.routerErrors.increment(by: failures.count)
        for failure in failures {
            warnings.warning(
                "router call failed",
                ["router": failure.name, "call": call, "error": "\(failure.error)"])
        }
        return failures.map { "router \($0.name) failed (\($0.error))" }.joined(separator: ", ")
    }

    static func describeQueueError(_ error: any Error) -> String {
        switch error as? QueueError {
        case .full: "dispatch queue is full"
        case .unavailable(let reason): "dispatch queue unavailable: \(reason)"
        case nil: "dispatch queue failed: \(error)"
        }
    }

    /// Runs `work(0)` … `work(count - 1)` concurrently; results by index.
    static func inParallel<T: Sendable>(
        _ count: Int, _ work: @escaping @Sendable (Int) async throws -> T
    ) async -> [Result<T, any Error>] {
        // The common case (one router, one comet) needs no child task.
        if count == 1 { return [await outcome(of: work, 0)] }

        return await withTaskGroup(of: (Int, Result<T, any Error>).self) { group in
            for index in 0..<count {
                group.addTask { (index, await outcome(of: work, index)) }
            }

            var results: [Result<T, any Error>?] = Array(repeating: nil, count: count)
            for await (index, result) in group { results[index] = result }
            return results.compactMap { $0 }
        }
    }

    private static func outcome<T>(
        of work: @Sendable (Int) async throws -> T, _ index: Int
    ) async -> Result<T, any Error> {
        do {
            return .success(try await work(index))
        } catch {
            return .failure(error)
        }
    }
}
