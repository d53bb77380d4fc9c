/// How job batches room messages (design §4.7). The defaults are goim's example values.
public struct JobConfiguration: Sendable, Equatable {
    /// The most messages sent to the comets in one room batch. Default 40; 1 or less turns
    /// batching off (every room message goes out alone, at once).
    public var roomBatchSize: Int
    /// How long a room collects messages after it sent something. Default 1 s; zero or negative
    /// turns batching off.
    public var roomBatchWindow: Duration
    /// The most messages waiting per room while its batches are on their way. Default 80
    /// (twice the batch); values below 1 mean 1. When a room is full, a message without
    /// `ensure` is dropped and counted, one with `ensure` waits for room.
    public var roomQueueLimit: Int

    public init(
        roomBatchSize: Int = 40, roomBatchWindow: Duration = .seconds(1), roomQueueLimit: Int = 80
    ) {
        self.roomBatchSize = roomBatchSize
        self.roomBatchWindow = roomBatchWindow
        self.roomQueueLimit = roomQueueLimit
    }

    /// Whether room messages are coalesced at all.
    public var isBatching: Bool { roomBatchSize > 1 && roomBatchWindow > .zero }
}
