import IMCore
import Testing

@Suite struct RingTests {
    @Test(arguments: [
        (1, 1), (2, 2), (3, 4), (5, 8), (8, 8), (9, 16), (1000, 1024), (0, 1), (-3, 1),
    ])
    func roundsCapacityUpToAPowerOfTwo(requested: Int, expected: Int) {
        #expect(Ring<Int>(capacity: requested).capacity == expected)
    }

    @Test func popsInPushOrder() {
        var ring = Ring<String>(capacity: 4)

        for word in ["a", "b", "c"] { #expect(ring.push(word) == true) }

        #expect(ring.pop() == "a")
        #expect(ring.pop() == "b")
        #expect(ring.pop() == "c")
        #expect(ring.pop() == nil)
    }

    @Test func refusesPushWhenFullAndKeepsContents() {
        var ring = Ring<Int>(capacity: 4)
        for value in 1...4 { #expect(ring.push(value) == true) }

        #expect(ring.isFull)
        #expect(ring.push(5) == false)
        #expect(ring.count == 4)
        #expect((1...4).map { _ in ring.pop() } == [1, 2, 3, 4])
    }

    @Test func wrapsAroundManyTimes() {
        var ring = Ring<Int>(capacity: 4)
        var next = 0
        var expected = 0

        for round in 0..<1000 {
            for _ in 0..<(round % 4 + 1) where ring.push(next) { next += 1 }
            while let value = ring.pop() {
                #expect(value == expected)
                expected += 1
            }
        }

        #expect(expected == next)
        #expect(ring.isEmpty)
    }

    @Test func peekDoesNotRemove() {
        var ring = Ring<Int>(capacity: 2)
        #expect(ring.peek() == nil)

        _ = ring.push(7)
        _ = ring.push(8)

        #expect(ring.peek() == 7)
        #expect(ring.count == 2)
        #expect(ring.pop() == 7)
        #expect(ring.peek() == 8)
    }

    @Test func countsAcrossTheWrap() {
        var ring = Ring<Int>(capacity: 4)
        for value in 0..<3 { _ = ring.push(value) }
        _ = ring.pop()
        _ = ring.pop()

        for value in 3..<6 { #expect(ring.push(value) == true) }

        #expect(ring.count == 4)
        #expect(ring.isFull)
        #expect(!ring.isEmpty)
    }

    @Test func removeAllEmptiesAndAllowsReuse() {
        var ring = Ring<Int>(capacity: 2)
        _ = ring.push(1)
        _ = ring.push(2)

        ring.removeAll()

        #expect(ring.isEmpty)
        #expect(ring.push(3) == true)
        #expect(ring.pop() == 3)
    }

    @Test func releasesPoppedElements() {
        final class Token {}
        var ring = Ring<Token>(capacity: 2)
        weak var weakToken: Token?
        do {
            let token = Token()
            weakToken = token
            _ = ring.push(token)
        }

        _ = ring.pop()

        #expect(weakToken == nil)
    }
}
