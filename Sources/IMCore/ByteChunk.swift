/// Immutable bytes at a stable address, shared by reference between every connection that
/// queues them. An encoded push is one `ByteChunk`, retained once per receiving connection and
/// written with `writev` straight from `base`.
///
/// `@unchecked Sendable`: the memory is written only in `init` and freed only in `deinit`, so
/// every thread that holds a reference sees the same immutable bytes.
public final class ByteChunk: @unchecked Sendable {
    public let base: UnsafeRawBufferPointer

    public var count: Int { base.count }

    /// Copies `bytes` into a new chunk.
    public convenience init(_ bytes: [UInt8]) {
        self.init(capacity: bytes.count) { buffer in
            bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
            return bytes.count
        }
    }

    /// Allocates `capacity` bytes and lets `fill` write them; `fill` returns how many it wrote.
    public init(capacity: Int, fill: (UnsafeMutableRawBufferPointer) -> Int) {
        let memory = UnsafeMutableRawBufferPointer.allocate(
            byteCount: max(capacity, 1), alignment: 8)
        let written = fill(UnsafeMutableRawBufferPointer(rebasing: memory[0..<capacity]))
        precondition(written <= capacity, "ByteChunk fill wrote past its capacity")
        self.base = UnsafeRawBufferPointer(rebasing: memory[0..<written])
    }

    deinit {
        UnsafeMutableRawPointer(mutating: base.baseAddress)?.deallocate()
    }

    /// The bytes as an array (a copy; for tests and control paths).
    public var bytes: [UInt8] { Array(base) }
}
