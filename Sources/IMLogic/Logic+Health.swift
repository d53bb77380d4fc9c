import IMCore
import IMNet

/// `/healthz`: logic can do its job when its queue takes messages and a router answers.
extension Logic {
    /// A router answer younger than this makes a probe unnecessary.
    static let routerFreshnessMillis: UInt64 = 10_000
    /// The longest a health check waits for the routers.
    static let routerProbeTimeout: Duration = .seconds(1)

    /// Nil when logic can serve pushes, else why not (one line). Cheap: the queue is asked a
    /// non-blocking question, and the routers are probed (with an empty lookup, all at once,
    /// for at most `routerProbeTimeout`) only when none answered in the last 10 s.
    public func healthProblem() async -> String? {
        if let reason = publisher.unavailableReason {
            return "dispatch queue unavailable: \(reason)"
        }
        if hasRecentRouterAnswer() { return nil }
        return await probeRouters()
    }

    /// Notes that a router answered (a relaxed store on the request path).
    func routerAnswered() {
        lastRouterAnswerMillis.store(System.monotonicMillis(), ordering: .relaxed)
    }

    private func hasRecentRouterAnswer() -> Bool {
        let last = lastRouterAnswerMillis.load(ordering: .relaxed)
        return last != 0 && System.monotonicMillis() &- last < Self.routerFreshnessMillis
    }

    private enum ProbeOutcome: Sendable {
        case answered
        case failed(String)
        case timedOut
    }

    /// Asks every router for nothing; nil as soon as one answers.
    private func probeRouters() async -> String? {
        let routers = self.routers.all
        let timeout = Self.routerProbeTimeout
        let problem = await withTaskGroup(of: ProbeOutcome.self) { group -> String? in
            for router in routers {
                group.addTask {
                    do {
                        _ = try await router.client.sessions(of: [])
                        return .answered
                    } catch {
                        return .failed("router \(router.name) failed (\(error))")
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return .timedOut
            }
            defer { group.cancelAll() }

            var failures: [String] = []
            for await outcome in group {
                switch outcome {
                case .answered: return nil
                case .timedOut: return "no router answered within \(timeout)"
                case .failed(let failure):
                    failures.append(failure)
                    if failures.count == routers.count {
                        return "no router answered: " + failures.joined(separator: ", ")
                    }
                }
            }
            return "no router answered"
        }
        if problem == nil { routerAnswered() }
        return problem
    }
}
