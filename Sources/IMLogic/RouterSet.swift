import IMCore

/// The configured routers, by name, and which one holds a given user: goim's ketama over the
/// router names (255 points per name), so every logic process with the same names agrees.
public struct RouterSet: Sendable {
    public typealias Member = (name: String, client: any RouterClient)

    public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
        /// No router was given (goim crashed on the first lookup instead).
        case noRouters
        /// Two routers share a name, so ketama could not tell them apart.
        case duplicateName(String)

        public var description: String {
            switch self {
            case .noRouters: "at least one router is required"
            case .duplicateName(let name): "router name \"\(name)\" is used twice"
            }
        }
    }

    /// Every router, in the order given.
    public let all: [Member]
    private let indexByName: [String: Int]
    private let ring: Ketama

    /// Throws `ConfigurationError` for an empty list or a repeated name.
    public init(_ routers: [Member]) throws {
        guard !routers.isEmpty else { throw ConfigurationError.noRouters }

        var indexByName: [String: Int] = [:]
        for (index, router) in routers.enumerated() {
            guard indexByName.updateValue(index, forKey: router.name) == nil else {
                throw ConfigurationError.duplicateName(router.name)
            }
        }

        self.all = routers
        self.indexByName = indexByName
        self.ring = try Self.makeRing(routers.map(\.name))
    }

    /// The router that holds `user`'s sessions.
    public func router(for user: UserID) -> Member {
        all[index(for: user)]
    }

    /// Position in `all` of the router that holds `user`.
    func index(for user: UserID) -> Int {
        guard all.count > 1 else { return 0 }
        return indexByName[ring.node(for: user)] ?? 0
    }

    /// `users` split by router: for each router index that holds any of them, the users in
    /// the order given.
    func partition(_ users: [UserID]) -> [Int: [UserID]] {
        var byRouter: [Int: [UserID]] = [:]
        for user in users {
            byRouter[index(for: user), default: []].append(user)
        }
        return byRouter
    }

    private static func makeRing(_ names: [String]) throws -> Ketama {
        guard let ring = Ketama(nodes: names) else { throw ConfigurationError.noRouters }
        return ring
    }
}
