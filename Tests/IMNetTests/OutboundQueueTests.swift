import Glibc
import IMCore
import IMNet
import Testing

@Suite struct OutboundQueueTests {
    private func chunk(_ byte: UInt8, count: Int) -> ByteChunk {
        ByteChunk([UInt8](repeating: byte, count: count))
    }

    /// Chunks whose bytes identify their position, so reordering or loss shows.
    private func numberedChunks(_ count: Int, size: Int) -> [ByteChunk] {
        (0..<count).map { index in
            ByteChunk((0..<size).map { UInt8(truncatingIfNeeded: index &* 31 &+ $0) })
        }
    }

    @Test func countsQueuedBytesAndChunks() {
        var queue = OutboundQueue()
        #expect(queue.isEmpty)

        queue.append(chunk(1, count: 10))
        queue.append(chunk(2, count: 20))
        queue.append(ByteChunk([]))
        queue.append(chunk(3, count: 30))

        #expect(!queue.isEmpty)
        #expect(queue.byteCount == 60)
        #expect(queue.chunkCount == 3)
    }

    @Test func removeAllEmptiesTheQueue() {
        var queue = OutboundQueue()
        queue.append(chunk(1, count: 10))
        queue.append(chunk(2, count: 10))

        queue.removeAll()

        #expect(queue.isEmpty)
        #expect(queue.byteCount == 0)
        #expect(queue.chunkCount == 0)
    }

    @Test func flushesEverythingToASocket() throws {
        let (writer, reader) = try NetTestSupport.socketPair()
        defer { close(writer); close(reader) }
        var queue = OutboundQueue()
        let chunks = numberedChunks(3, size: 100)
        chunks.forEach { queue.append($0) }

        #expect(queue.write(to: writer) == .flushed)

        #expect(queue.isEmpty && queue.byteCount == 0)
        #expect(NetTestSupport.drain(reader) == chunks.flatMap(\.bytes))
    }

    @Test func writesMoreChunksThanOneGatheredWriteTakes() throws {
        let (writer, reader) = try NetTestSupport.socketPair()
        defer { close(writer); close(reader) }
        var queue = OutboundQueue()
        let chunks = numberedChunks(200, size: 10)
        chunks.forEach { queue.append($0) }

        #expect(queue.write(to: writer) == .flushed)
        #expect(NetTestSupport.drain(reader) == chunks.flatMap(\.bytes))
    }

    @Test func partialWritesKeepTheRestAndResume() throws {
        let (writer, reader) = try NetTestSupport.socketPair()
        defer { close(writer); close(reader) }
        var small: Int32 = 4096
        setsockopt(writer, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))

        var queue = OutboundQueue()
        let chunks = numberedChunks(150, size: 1_000)
        chunks.forEach { queue.append($0) }
        var received: [UInt8] = []
        var wouldBlockCount = 0

        for _ in 0..<10_000 {
            let result = queue.write(to: writer)
            received += NetTestSupport.drain(reader)
            #expect(queue.byteCount == 150_000 - received.count)
            if result == .flushed { break }
            #expect(result == .wouldBlock)
            wouldBlockCount += 1
        }

        #expect(wouldBlockCount > 0)
        #expect(queue.isEmpty)
        #expect(received == chunks.flatMap(\.bytes))
    }

    @Test func appendingWhileBackloggedKeepsTheOrder() throws {
        let (writer, reader) = try NetTestSupport.socketPair()
        defer { close(writer); close(reader) }
        var small: Int32 = 4096
        setsockopt(writer, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var queue = OutboundQueue()
        let chunks = numberedChunks(400, size: 700)
        var received: [UInt8] = []

        for batch in stride(from: 0, to: chunks.count, by: 20) {
            chunks[batch..<batch + 20].forEach { queue.append($0) }
            _ = queue.write(to: writer)
            // Read only part of what is there, so the queue stays backlogged.
            if batch % 40 == 0 { received += NetTestSupport.drain(reader) }
        }
        for _ in 0..<10_000 where !queue.isEmpty {
            _ = queue.write(to: writer)
            received += NetTestSupport.drain(reader)
        }

        #expect(queue.isEmpty)
        #expect(received == chunks.flatMap(\.bytes))
    }

    @Test func queueIsReusableAfterDraining() throws {
        let (writer, reader) = try NetTestSupport.socketPair()
        defer { close(writer); close(reader) }
        var queue = OutboundQueue()
        var expected: [UInt8] = []

        for round in 0..<5 {
            let chunks = numberedChunks(round + 1, size: 50 + round)
            chunks.forEach { queue.append($0) }
            expected += chunks.flatMap(\.bytes)
            #expect(queue.write(to: writer) == .flushed)
        }

        #expect(NetTestSupport.drain(reader) == expected)
    }

    @Test func writeToAClosedPeerFailsWithoutSignal() throws {
        let (writer, reader) = try NetTestSupport.socketPair()
        defer { close(writer) }
        close(reader)
        var queue = OutboundQueue()
        queue.append(chunk(7, count: 100))

        let result = queue.write(to: writer)

        #expect(result == .failed(EPIPE))
        #expect(queue.byteCount == 100)
    }

    @Test func emptyQueueIsFlushedWithoutWriting() {
        var queue = OutboundQueue()
        #expect(queue.write(to: -1) == .flushed)
    }
}
