import CLinux
import Glibc
import IMCore

/// The bytes waiting to be written to one connection: a list of shared `ByteChunk`s, counted in
/// bytes, written with as few system calls as possible (one gathered write of up to 64 chunks).
///
/// The first chunk is stored inline and the rest in an overflow array that is only allocated
/// once two or more chunks queue up: the common case (one push pending, or nothing) costs the
/// connection no array at all. Once allocated the overflow array keeps its capacity (up to
/// `retainedOverflowCapacity` slots), so a busy connection appends without allocating.
///
/// A value type owned by one connection on one loop; not thread-safe.
public struct OutboundQueue {
    /// How a `write(to:)` ended.
    public enum WriteResult: Sendable, Equatable {
        /// Everything queued was written.
        case flushed
        /// The socket's send buffer is full; wait for writability and call `write` again.
        case wouldBlock
        /// The write failed with this `errno` (`EPIPE`, `ECONNRESET`, ...): close the connection.
        case failed(Int32)
    }

    /// Overflow arrays larger than this are freed when the queue drains, so one burst does not
    /// pin memory on an idle connection for the rest of its life.
    public static let retainedOverflowCapacity = 64

    /// At most this many chunks go into one gathered write (Linux allows 1,024; a socket send
    /// buffer rarely takes more than 64 pushes at once anyway).
    static let maxChunksPerWrite = 64

    /// The chunk being written, from `readOffset`. Nil only when the queue is empty.
    private var first: ByteChunk?
    /// Chunks after `first`, from `overflowStart` on; the ones before it were already promoted.
    private var overflow: [ByteChunk] = []
    private var overflowStart = 0
    private var readOffset = 0

    /// Bytes queued and not yet written.
    public private(set) var byteCount = 0

    public init() {}

    /// Whether nothing is waiting to be written.
    public var isEmpty: Bool { first == nil }

    /// Chunks queued (including a partly written first chunk).
    public var chunkCount: Int {
        first == nil ? 0 : 1 + overflow.count - overflowStart
    }

    /// Queues `chunk` after everything already queued. Empty chunks are ignored.
    public mutating func append(_ chunk: ByteChunk) {
        guard chunk.count > 0 else { return }

        byteCount += chunk.count
        if first == nil {
            first = chunk
        } else {
            overflow.append(chunk)
        }
    }

    /// Drops everything queued (the connection is closing).
    public mutating func removeAll() {
        first = nil
        readOffset = 0
        byteCount = 0
        overflowStart = 0
        releaseOrKeepOverflow()
    }

    /// Writes as much as the socket takes, chunks gathered into one `sendmsg` call each round.
    ///
    /// A short write means the send buffer is full, so it returns `.wouldBlock` at once rather
    /// than spending a system call to hear `EAGAIN`. `MSG_NOSIGNAL` keeps a closed peer from
    /// raising `SIGPIPE`; descriptors that are not sockets fall back to `writev`.
    public mutating func write(to fd: Int32) -> WriteResult {
        withUnsafeTemporaryAllocation(of: iovec.self, capacity: Self.maxChunksPerWrite) { vectors in
            while !isEmpty {
                let (vectorCount, total) = fillVectors(vectors)
                let written = gatheredWrite(fd, vectors.baseAddress!, count: vectorCount)

                if written < 0 {
                    let code = Glibc.errno
                    if code == EINTR { continue }
                    return code == EAGAIN || code == EWOULDBLOCK ? .wouldBlock : .failed(code)
                }

                consume(written)
                if written < total { return .wouldBlock }
            }
            return .flushed
        }
    }

    /// Points `vectors` at the queued bytes: how many vectors were filled and their byte total.
    func fillVectors(_ vectors: UnsafeMutableBufferPointer<iovec>) -> (Int, Int) {
        guard let first else { return (0, 0) }

        let firstBytes = first.base.count - readOffset
        vectors[0] = iovec(
            iov_base: UnsafeMutableRawPointer(mutating: first.base.baseAddress! + readOffset),
            iov_len: firstBytes)
        var filled = 1
        var total = firstBytes

        var index = overflowStart
        while filled < vectors.count && index < overflow.count {
            let chunk = overflow[index]
            vectors[filled] = iovec(
                iov_base: UnsafeMutableRawPointer(mutating: chunk.base.baseAddress!),
                iov_len: chunk.count)
            total += chunk.count
            filled += 1
            index += 1
        }
        return (filled, total)
    }

    /// Drops `written` bytes from the front of the queue.
    mutating func consume(_ written: Int) {
        var remaining = written
        byteCount -= written

        while remaining > 0, let current = first {
            let left = current.count - readOffset
            if remaining < left {
                readOffset += remaining
                return
            }
            remaining -= left
            promoteNextChunk()
        }
    }

    /// The first chunk is done: the next overflow chunk (if any) becomes `first`.
    private mutating func promoteNextChunk() {
        readOffset = 0
        guard overflowStart < overflow.count else {
            first = nil
            return
        }

        first = overflow[overflowStart]
        overflowStart += 1
        if overflowStart == overflow.count {
            overflowStart = 0
            releaseOrKeepOverflow()
        } else if overflowStart >= 32 && overflowStart * 2 >= overflow.count {
            // A connection that never drains fully must not grow the array forever.
            overflow.removeSubrange(0..<overflowStart)
            overflowStart = 0
        }
    }

    private mutating func releaseOrKeepOverflow() {
        if overflow.capacity > Self.retainedOverflowCapacity {
            overflow = []
        } else {
            overflow.removeAll(keepingCapacity: true)
        }
    }
}

/// `sendmsg` with `MSG_NOSIGNAL`, or `writev` for descriptors that are not sockets.
private func gatheredWrite(_ fd: Int32, _ vectors: UnsafeMutablePointer<iovec>, count: Int) -> Int {
    var message = msghdr()
    message.msg_iov = vectors
    message.msg_iovlen = count
    let sent = sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
    if sent < 0 && Glibc.errno == ENOTSOCK {
        return writev(fd, vectors, Int32(count))
    }
    return sent
}
