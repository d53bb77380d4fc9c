import CLinux
import Glibc

extension OutboundQueue {
    /// How a `write(to: TLSSession)` ended.
    public enum TLSWriteResult: Sendable, Equatable {
        /// Everything queued was written.
        case flushed
        /// The socket is full: wait for writability and call `write(to:)` again.
        case wantWrite
        /// OpenSSL must read first (a key update): wait for readability and call again.
        case wantRead
        /// The session is broken: close the connection without `shutdown()`.
        case failed(TLSError)
    }

    /// At most this many chunks are gathered into one record: enough to fill 16 KiB with
    /// 64-byte pushes, and 4 KiB of vectors on the loop's stack.
    static let maxChunksPerRecord = 256

    /// Encrypts and writes as much of the queue as the socket takes, one TLS record per round.
    ///
    /// Small chunks are gathered into one record (up to 16 KiB, copied through a per-thread
    /// staging buffer) so that a burst of pushes costs one record and one system call rather
    /// than one each; a chunk of 16 KiB or more, or a lone chunk, is passed as it is.
    ///
    /// After `.wantWrite` / `.wantRead`, OpenSSL holds the record it started: call this again
    /// before removing anything from the queue (appending is fine). It re-gathers the same
    /// leading bytes, which is what OpenSSL requires of a retry.
    public mutating func write(to session: TLSSession) -> TLSWriteResult {
        withUnsafeTemporaryAllocation(of: iovec.self, capacity: Self.maxChunksPerRecord) {
            vectors in
            while !isEmpty {
                let (vectorCount, _) = fillVectors(vectors)
                let record = Self.nextRecord(vectors, count: vectorCount)

                switch session.write(record) {
                case .wrote(let count): consume(count)
                case .wantWrite: return .wantWrite
                case .wantRead: return .wantRead
                case .failed(let error): return .failed(error)
                }
            }
            return .flushed
        }
    }

    /// The bytes for the next record: the first chunk itself when it fills a record or is
    /// alone, else the leading chunks copied into the staging buffer.
    private static func nextRecord(
        _ vectors: UnsafeMutableBufferPointer<iovec>, count: Int
    ) -> UnsafeRawBufferPointer {
        let first = vectors[0]
        if count == 1 || first.iov_len >= TLSWriteStaging.capacity {
            return UnsafeRawBufferPointer(start: first.iov_base, count: first.iov_len)
        }

        let staging = TLSWriteStaging.buffer
        var filled = 0
        for index in 0..<count where filled < staging.count {
            let take = min(vectors[index].iov_len, staging.count - filled)
            (staging.baseAddress! + filled).copyMemory(
                from: vectors[index].iov_base!, byteCount: take)
            filled += take
        }
        return UnsafeRawBufferPointer(rebasing: staging[0..<filled])
    }
}

/// A 16 KiB buffer per thread (so per event loop) where small queued chunks are gathered into
/// one TLS record. OpenSSL encrypts the bytes into its own record buffer during `SSL_write`, so
/// the staging buffer is free again as soon as the call returns and can be shared by every
/// connection of the thread.
enum TLSWriteStaging {
    /// The largest plaintext of one TLS record.
    static let capacity = 16 * 1024

    /// Freed by the key's destructor when the thread exits.
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let result = pthread_key_create(&key) { $0?.deallocate() }
        precondition(result == 0, "pthread_key_create failed: \(result)")
        return key
    }()

    /// The calling thread's staging buffer, allocated on first use.
    static var buffer: UnsafeMutableRawBufferPointer {
        if let existing = pthread_getspecific(key) {
            return UnsafeMutableRawBufferPointer(start: existing, count: capacity)
        }

        let fresh = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        pthread_setspecific(key, fresh)
        return UnsafeMutableRawBufferPointer(start: fresh, count: capacity)
    }
}
