/// SplitMix64: a small deterministic generator, so a random case that fails replays the same
/// way from its seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// `count` random bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}

/// How a decoder test cuts a byte stream into calls: all at once, one byte at a time, or in
/// random chunks from a seed. Incremental decoders must give the same result for every split.
public enum InputSplit: Sendable, CustomStringConvertible {
    case allAtOnce
    case byteByByte
    case randomChunks(seed: UInt64)

    /// All at once, byte by byte, and eight seeded random splits.
    public static let all: [InputSplit] =
        [.allAtOnce, .byteByByte] + (1...8).map { .randomChunks(seed: $0) }

    /// The sizes of the pieces of a stream of `total` bytes (they add up to `total`).
    public func chunkSizes(total: Int) -> [Int] {
        switch self {
        case .allAtOnce:
            return total == 0 ? [] : [total]
        case .byteByByte:
            return Array(repeating: 1, count: total)
        case .randomChunks(let seed):
            var generator = SeededGenerator(seed: seed)
            var sizes: [Int] = []
            var left = total
            while left > 0 {
                let size = min(left, Int.random(in: 1...32, using: &generator))
                sizes.append(size)
                left -= size
            }
            return sizes
        }
    }

    /// `bytes` cut into pieces by `chunkSizes(total:)`.
    public func chunks(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var start = 0
        return chunkSizes(total: bytes.count).map { size in
            defer { start += size }
            return bytes[start..<start + size]
        }
    }

    public var description: String {
        switch self {
        case .allAtOnce: return "all at once"
        case .byteByByte: return "byte by byte"
        case .randomChunks(let seed): return "random chunks (seed \(seed))"
        }
    }
}
