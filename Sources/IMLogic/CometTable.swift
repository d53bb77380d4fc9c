import IMCore
import Synchronization

/// Logic's table of registered comets, with a generation that changes whenever the set of
/// comets or an RPC address changes, so job can long-poll for changes.
///
/// Generations start at a random value, so a job polling a restarted logic process does not
/// mistake the new table for the one it already has.
final class CometTable: Sendable {
    struct Entry {
        var member: CometMember
        var online: Int
        var refreshed: ContinuousClock.Instant
    }

    private struct State {
        var entries: [ServerID: Entry] = [:]
        var generation: UInt64
        /// Expired comets whose sessions some routers (by index in the router set) still hold.
        var pendingCleanups: [ServerID: Set<Int>] = [:]
    }

    /// What a registration changed.
    enum Change {
        case added
        case moved(from: String)
        case refreshed
    }

    /// Wakes long polls; its version is the generation (set under the table's lock).
    let signal: ChangeSignal
    private let state: Mutex<State>

    init() {
        let generation = UInt64.random(in: 1...(UInt64.max >> 1))
        state = Mutex(State(generation: generation))
        signal = ChangeSignal(version: generation)
    }

    var generation: UInt64 { state.withLock { $0.generation } }

    /// Adds or refreshes a comet. A comet that registers again no longer needs the clean-up
    /// left from its expiry: its sessions are its own again (or were cleared by a fresh start).
    func record(_ registration: CometRegistration, at now: ContinuousClock.Instant) -> Change {
        let member = CometMember(server: registration.server, rpcAddress: registration.rpcAddress)
        let entry = Entry(member: member, online: registration.online, refreshed: now)
        return state.withLock { state in
            state.pendingCleanups[registration.server] = nil
            let previous = state.entries.updateValue(entry, forKey: registration.server)
            switch previous?.member.rpcAddress {
            case nil:
                bump(&state)
                return .added
            case let address? where address != registration.rpcAddress:
                bump(&state)
                return .moved(from: address)
            default:
                return .refreshed
            }
        }
    }

    /// The comets registered now, sorted by server id.
    func list() -> CometList {
        state.withLock { state in
            let members = state.entries.values.map(\.member).sorted { $0.server < $1.server }
            return CometList(generation: state.generation, comets: members)
        }
    }

    /// Registered comets with their last reported online count, sorted by server id.
    func entries() -> [Entry] {
        state.withLock { $0.entries.values.sorted { $0.member.server < $1.member.server } }
    }

    /// Drops every comet not refreshed since `cutoff` and marks its sessions for removal on
    /// each of `routerCount` routers. Returns the dropped comets.
    func expire(before cutoff: ContinuousClock.Instant, routerCount: Int) -> [Entry] {
        state.withLock { state in
            let expired = state.entries.values.filter { $0.refreshed < cutoff }
            guard !expired.isEmpty else { return [] }
            for entry in expired {
                state.entries[entry.member.server] = nil
                state.pendingCleanups[entry.member.server] = Set(0..<routerCount)
            }
            bump(&state)
            return expired
        }
    }

    /// Expired comets and the routers that still hold their sessions.
    func pendingCleanups() -> [(server: ServerID, routers: [Int])] {
        state.withLock { state in
            state.pendingCleanups.map { ($0.key, $0.value.sorted()) }.sorted { $0.0 < $1.0 }
        }
    }

    /// Whether `router` still has to remove the sessions of `server`.
    func isCleanupPending(server: ServerID, router: Int) -> Bool {
        state.withLock { $0.pendingCleanups[server]?.contains(router) ?? false }
    }

    /// Records that `router` removed the sessions of `server`.
    func cleanupDone(server: ServerID, router: Int) {
        state.withLock { state in
            state.pendingCleanups[server]?.remove(router)
            if state.pendingCleanups[server]?.isEmpty == true {
                state.pendingCleanups[server] = nil
            }
        }
    }

    private func bump(_ state: inout State) {
        state.generation &+= 1
        if state.generation == 0 { state.generation = 1 }
        signal.set(state.generation)
    }
}
