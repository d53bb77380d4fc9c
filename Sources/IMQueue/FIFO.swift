/// A first-in first-out buffer with amortised O(1) append and removal, built from two arrays:
/// new elements go on `incoming`; when `outgoing` runs dry, `incoming` is reversed into it.
/// In steady state it allocates nothing, because the two arrays trade their storage.
public struct FIFO<Element> {
    private var incoming: [Element] = []
    /// Oldest element last.
    private var outgoing: [Element] = []

    public init() {}

    public var count: Int { incoming.count + outgoing.count }

    public var isEmpty: Bool { incoming.isEmpty && outgoing.isEmpty }

    /// The oldest element, if any.
    public var first: Element? { outgoing.last ?? incoming.first }

    public mutating func append(_ element: Element) {
        incoming.append(element)
    }

    /// Removes and returns the oldest element.
    public mutating func popFirst() -> Element? {
        if outgoing.isEmpty {
            incoming.reverse()
            swap(&incoming, &outgoing)
        }
        return outgoing.popLast()
    }
}

extension FIFO: Sendable where Element: Sendable {}
