import Synchronization

/// A monotonically increasing count, safe to bump from any thread. Every drop, disconnect
/// reason and delivery that the server must account for is a `Counter`.
public final class Counter: Sendable {
    public let name: String
    public let help: String
    private let value = Atomic<Int>(0)

    public init(_ name: String, help: String) {
        self.name = name
        self.help = help
    }

    public func increment(by amount: Int = 1) {
        value.wrappingAdd(amount, ordering: .relaxed)
    }

    public var current: Int { value.load(ordering: .relaxed) }
}

/// A value that goes up and down (open connections, queue depth).
public final class Gauge: Sendable {
    public let name: String
    public let help: String
    private let value = Atomic<Int>(0)

    public init(_ name: String, help: String) {
        self.name = name
        self.help = help
    }

    public func add(_ amount: Int) { value.wrappingAdd(amount, ordering: .relaxed) }
    public func set(_ amount: Int) { value.store(amount, ordering: .relaxed) }
    public var current: Int { value.load(ordering: .relaxed) }
}
