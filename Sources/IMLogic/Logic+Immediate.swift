import IMCore
import IMNet

/// The in-process router(s) and queue of `serve all`, typed so a push can be carried out
/// without suspending.
struct ImmediateBackends: Sendable {
    /// In the order of `RouterSet.all`.
    let routers: [any ImmediateRouterClient]
    let publisher: any ImmediateDispatchPublisher

    /// Nil unless every router and the publisher answer at once.
    init?(routers: RouterSet, publisher: any DispatchPublisher) {
        let immediateRouters = routers.all.compactMap { $0.client as? any ImmediateRouterClient }
        guard immediateRouters.count == routers.all.count,
            let publisher = publisher as? any ImmediateDispatchPublisher
        else { return nil }

        self.routers = immediateRouters
        self.publisher = publisher
    }
}

/// Pushes answered on the HTTP event loop: with an in-process router and the memory queue a
/// push is a few short locked lookups and an enqueue, cheaper than the two thread hops of
/// the task path. Same checks, metrics, messages and answers as `handle(_:)`.
///
/// Job's consumer, when it waits for messages, is woken once at the end of the loop's
/// iteration rather than by every push: a thread wake-up costs more than the push itself.
extension Logic {
    /// The answer to a push request when the routers and queue answer at once; nil for every
    /// other endpoint (and for requests that are not a push), which go through `handle(_:)`.
    public func respondImmediately(
        to request: HTTPRequest, on loop: EventLoop
    ) -> HTTPResponse? {
        guard let immediate, let endpoint = LogicEndpoint(rawValue: request.path),
            endpoint.pushKind != nil, request.method == endpoint.method
        else { return nil }

        let received = ContinuousClock.now
        var wakeUpDue = false
        defer {
            let publisher = immediate.publisher
            if wakeUpDue { loop.runAtIterationEnd { publisher.wakeConsumer() } }
        }
        do {
            try carryOutNow(try pushOrder(endpoint, request), with: immediate, &wakeUpDue)
            return answer(request, pushed(endpoint, received: received))
        } catch {
            return answer(request, failure: error)
        }
    }

    /// Sets `wakeUpDue` when the queue wants a `wakeConsumer()`.
    private func carryOutNow(
        _ order: PushOrder, with backends: ImmediateBackends, _ wakeUpDue: inout Bool
    ) throws(LogicRequestError) {
        switch order {
        case .users(let users, let body):
            let sessions = lookUpSessionsNow(of: users, with: backends)
            let messages = Self.messagesByServer(users: users, sessions: sessions, body: body)
            try publishNow(messages, with: backends, &wakeUpDue)
        case .messages(let messages):
            try publishNow(messages, with: backends, &wakeUpDue)
        }
    }

    /// What `lookUpSessions(of:)` finds; in-process routers cannot fail.
    private func lookUpSessionsNow(
        of users: [UserID], with backends: ImmediateBackends
    ) -> [UserID: [SessionRecord]] {
        var sessions: [UserID: [SessionRecord]] = [:]
        for (index, routerUsers) in routers.partition(users).sorted(by: { $0.key < $1.key }) {
            let found = backends.routers[index].sessionsNow(of: routerUsers)
            routerAnswered()
            sessions.merge(found) { first, _ in first }
        }
        return sessions
    }

    private func publishNow(
        _ messages: [DispatchMessage], with backends: ImmediateBackends, _ wakeUpDue: inout Bool
    ) throws(LogicRequestError) {
        var results: [Result<Void, any Error>] = []
        results.reserveCapacity(messages.count)
        for message in messages {
            do {
                if try backends.publisher.publishNow(message) { wakeUpDue = true }
                results.append(.success(()))
            } catch {
                results.append(.failure(error))
            }
        }
        try countPublished(messages.count, results)
    }
}
