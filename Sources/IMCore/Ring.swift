/// A fixed-capacity FIFO queue over a power-of-two slot array, indexed with a mask.
///
/// The capacity is rounded up to a power of two (a request of 5 gives 8). `push` refuses new
/// elements when the ring is full instead of growing or overwriting. Single-threaded: it is a
/// value type, owned by one connection or one loop. Storage is allocated once, in `init`.
public struct Ring<Element> {
    private var slots: ContiguousArray<Element?>
    private let mask: Int
    /// Monotonic read and write counters; their difference is the count. Wrapping arithmetic
    /// keeps them valid after Int.max operations.
    private var readIndex = 0
    private var writeIndex = 0

    /// The largest capacity a ring accepts (2^30 slots).
    public static var maxCapacity: Int { 1 << 30 }

    /// - Parameter capacity: minimum number of elements; values below 1 mean 1.
    /// - Precondition: `capacity <= Ring.maxCapacity`.
    public init(capacity: Int) {
        precondition(capacity <= Ring.maxCapacity, "ring capacity \(capacity) is too large")
        let slotCount = Ring.powerOfTwo(atLeast: max(capacity, 1))
        self.slots = ContiguousArray(repeating: nil, count: slotCount)
        self.mask = slotCount - 1
    }

    /// The number of elements the ring holds when full (a power of two).
    public var capacity: Int { mask + 1 }

    public var count: Int { writeIndex &- readIndex }
    public var isEmpty: Bool { count == 0 }
    public var isFull: Bool { count == capacity }

    /// Appends `element` at the back. Returns false, leaving the ring unchanged, when full.
    public mutating func push(_ element: Element) -> Bool {
        guard !isFull else { return false }

        slots[writeIndex & mask] = element
        writeIndex &+= 1
        return true
    }

    /// Removes and returns the front element, or nil when empty.
    public mutating func pop() -> Element? {
        guard !isEmpty else { return nil }

        let slot = readIndex & mask
        let element = slots[slot]
        slots[slot] = nil
        readIndex &+= 1
        return element
    }

    /// The front element without removing it, or nil when empty.
    public func peek() -> Element? {
        isEmpty ? nil : slots[readIndex & mask]
    }

    /// Drops every element, keeping the storage.
    public mutating func removeAll() {
        while pop() != nil {}
    }

    private static func powerOfTwo(atLeast value: Int) -> Int {
        var result = 1
        while result < value { result <<= 1 }
        return result
    }
}

extension Ring: Sendable where Element: Sendable {}
