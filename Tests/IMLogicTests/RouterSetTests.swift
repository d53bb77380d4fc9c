import IMCore
import IMRouter
import Testing

@testable import IMLogic

@Suite struct RouterSetTests {
    @Test func refusesNoRouters() {
        #expect(throws: RouterSet.ConfigurationError.noRouters) { try RouterSet([]) }
    }

    @Test func refusesDuplicateNames() {
        #expect(throws: RouterSet.ConfigurationError.duplicateName("a")) {
            try RouterSet([("a", Router()), ("b", Router()), ("a", Router())])
        }
    }

    @Test func oneRouterHoldsEveryUser() throws {
        let set = try RouterSet([("only", Router())])

        #expect([0, 1, 123, UserID.max].allSatisfy { set.router(for: $0).name == "only" })
    }

    @Test func picksTheRouterKetamaNames() throws {
        let names = ["1", "2", "3"]
        let set = try RouterSet(names.map { ($0, Router()) })
        let ring = try #require(Ketama(nodes: names))

        for user in UserID(0)..<300 {
            #expect(set.router(for: user).name == ring.node(for: user))
        }
        #expect(Set((UserID(0)..<300).map { set.router(for: $0).name }) == Set(names))
        #expect(set.all.map(\.name) == names)
    }

    @Test func partitionKeepsUserOrderPerRouter() throws {
        let set = try RouterSet([("a", Router()), ("b", Router())])
        let users = Array(UserID(1)...40)

        let parts = set.partition(users)

        #expect(parts.values.flatMap { $0 }.sorted() == users)
        for (index, part) in parts {
            #expect(part == users.filter { set.index(for: $0) == index })
        }
    }
}
