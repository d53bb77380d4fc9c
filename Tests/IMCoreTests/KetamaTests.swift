import IMCore
import Testing

@Suite struct KetamaTests {
    @Test func hashesLikeGoim() {
        #expect(Ketama.hash("1:1") == 3_004_942_413)
        #expect(Ketama.hash("123") == 3_420_176_111)
    }

    @Test func refusesAnEmptyNodeList() {
        #expect(Ketama(nodes: []) == nil)
    }

    @Test func oneNodeOwnsEveryone() throws {
        let ring = try #require(Ketama(nodes: ["only"]))

        #expect([Int64(0), 1, 123, -5, Int64.max].allSatisfy { ring.node(for: $0) == "only" })
    }

    @Test func isDeterministic() throws {
        let first = try #require(Ketama(nodes: ["1", "2", "3"]))
        let second = try #require(Ketama(nodes: ["1", "2", "3"]))

        #expect((0..<1000).allSatisfy { first.node(for: $0) == second.node(for: $0) })
    }

    @Test func ownerIsTheNodeOfTheFirstPointAtOrAfterTheUserHash() throws {
        let nodes = ["1", "2", "3"]
        let ring = try #require(Ketama(nodes: nodes))
        let points = nodes.flatMap { name in (1...255).map { (Ketama.hash("\(name):\($0)"), name) }
        }
        .sorted { $0.0 < $1.0 }

        for user in Int64(0)..<200 {
            let value = Ketama.hash("\(user)")
            let expected = (points.first { $0.0 >= value } ?? points[0]).1
            #expect(ring.node(for: user) == expected)
        }
    }

    @Test func spreadsUsersRoughlyEvenly() throws {
        let ring = try #require(Ketama(nodes: ["1", "2", "3"]))
        var counts: [String: Int] = [:]

        for user in Int64(0)..<100_000 {
            counts[ring.node(for: user), default: 0] += 1
        }

        #expect(counts.count == 3)
        for (node, count) in counts {
            #expect((20_000...47_000).contains(count), "node \(node) owns \(count) of 100000")
        }
    }

    @Test func addingANodeMovesFewUsers() throws {
        let three = try #require(Ketama(nodes: ["1", "2", "3"]))
        let four = try #require(Ketama(nodes: ["1", "2", "3", "4"]))
        var moved = 0

        for user in Int64(0)..<100_000 {
            let before = three.node(for: user)
            let after = four.node(for: user)
            if before != after {
                moved += 1
                #expect(after == "4", "user \(user) moved between old nodes")
            }
        }

        #expect(moved < 40_000)
        #expect(moved > 0)
    }
}
