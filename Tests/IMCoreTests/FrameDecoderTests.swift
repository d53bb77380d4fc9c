import IMTestKit
import Testing

@testable import IMCore


/// Every kind of frame the decoder must handle.
let sampleFrames: [Frame] = [
    Frame(ver: 1, op: Operation.auth, seq: 1, body: Array("123".utf8)),
    Frame(ver: 1, op: Operation.heartbeat, seq: 2),
    Frame.push(Array(#"{"test":1}"#.utf8)),
    Frame(ver: -1, op: Int32.min, seq: Int32.max, body: [0]),
    Frame(ver: Int16.max, op: Int32.max, seq: -1, body: [UInt8](repeating: 0x10, count: 16)),
    Frame(ver: 0, op: Operation.sendMessage, seq: 7, body: Frame(op: 2).encoded),
    Frame(ver: 1, op: Operation.test, seq: 9, body: (0..<64).map { UInt8($0 * 3 & 0xFF) }),
    Frame(ver: 1, op: Operation.sendMessage, seq: 10, body: [UInt8](repeating: 0xAB, count: 64)),
]

@Suite struct FrameDecoderTests {
    static let maxBody = 64

    @Test(arguments: InputSplit.all)
    func decodesEveryFrameKindWhateverTheSplit(_ split: InputSplit) throws {
        let stream = sampleFrames.flatMap(\.encoded)

        let decoded = try decodeWithPendingChecks(stream, split: split, expected: sampleFrames)

        #expect(decoded == sampleFrames)
    }

    @Test(arguments: InputSplit.all)
    func decodesEachFrameAloneWhateverTheSplit(_ split: InputSplit) throws {
        for frame in sampleFrames {
            let decoded = try decodeWithPendingChecks(
                frame.encoded, split: split, expected: [frame])
            #expect(decoded == [frame])
        }
    }

    @Test func decodesManyFramesFromOneBuffer() throws {
        let frames = (0..<500).map {
            Frame(ver: 1, op: 4, seq: Int32($0), body: Array("m\($0)".utf8))
        }
        var decoder = FrameDecoder(maxBodySize: Self.maxBody)
        var decoded: [Frame] = []

        try frames.flatMap(\.encoded).withUnsafeBytes { bytes in
            try decoder.decode(bytes) { decoded.append($0) }
        }

        #expect(decoded == frames)
        #expect(!decoder.hasPartialFrame)
    }

    @Test func keepsStorageOnlyWhileAFrameIsPartial() throws {
        var decoder = FrameDecoder(maxBodySize: Self.maxBody)
        let encoded = Frame(ver: 1, op: 4, seq: 1, body: [UInt8](repeating: 1, count: 40)).encoded
        var count = 0

        try decoder.decode(encoded[0..<10]) { _ in count += 1 }
        #expect(decoder.hasPartialFrame)
        #expect(decoder.pendingByteCount == 10)

        try decoder.decode(encoded[10..<30]) { _ in count += 1 }
        #expect(decoder.pendingByteCount == 30)

        try decoder.decode(encoded[30...]) { _ in count += 1 }
        #expect(count == 1)
        #expect(!decoder.hasPartialFrame)
        #expect(decoder.pendingCapacity == 0)
    }

    @Test func holdsNothingAfterDecodingCompleteFrames() throws {
        var decoder = FrameDecoder(maxBodySize: Self.maxBody)

        try decoder.decode(sampleFrames.flatMap(\.encoded)[...]) { _ in }

        #expect(!decoder.hasPartialFrame)
        #expect(decoder.pendingCapacity == 0)
    }

    @Test func acceptsABodyOfExactlyTheMaximum() throws {
        let frame = Frame(ver: 1, op: 4, seq: 1, body: [UInt8](repeating: 7, count: Self.maxBody))
        var decoder = FrameDecoder(maxBodySize: Self.maxBody)
        var decoded: [Frame] = []

        try decoder.decode(frame.encoded[...]) { decoded.append($0) }

        #expect(decoded == [frame])
    }

    @Test func acceptsEmptyBodiesWithAZeroMaximum() throws {
        var decoder = FrameDecoder(maxBodySize: 0)
        var decoded: [Frame] = []

        try decoder.decode(Frame(op: 2, seq: 3).encoded[...]) { decoded.append($0) }

        #expect(decoded == [Frame(op: 2, seq: 3)])
    }

    @Test func decodesWhatPrecedesABadFrame() throws {
        var decoder = FrameDecoder(maxBodySize: Self.maxBody)
        var decoded: [Frame] = []
        let stream = sampleFrames[0].encoded + header(packLen: 3)

        #expect(throws: FrameError.packLengthTooSmall(3)) {
            try decoder.decode(stream[...]) { decoded.append($0) }
        }
        #expect(decoded == [sampleFrames[0]])
    }
}

// MARK: - Rejections

@Suite struct FrameDecoderRejectionTests {
    static let maxBody = 1024

    @Test(arguments: [Int32(0), 1, 15, -1, -16, Int32.min])
    func rejectsPackLengthBelowTheHeader(_ packLen: Int32) {
        expectRejection(header(packLen: packLen), FrameError.packLengthTooSmall(packLen))
    }

    @Test(arguments: [Int16(15), 17, 0, -16, Int16.max])
    func rejectsHeaderLengthOtherThanSixteen(_ headerLen: Int16) {
        expectRejection(
            header(packLen: 20, headerLen: headerLen), FrameError.invalidHeaderLength(headerLen))
    }

    @Test func rejectsABodyOneByteOverTheMaximum() {
        let packLen = Int32(16 + Self.maxBody + 1)

        expectRejection(
            header(packLen: packLen),
            FrameError.bodyTooLarge(size: Self.maxBody + 1, limit: Self.maxBody))
    }

    @Test func rejectsAHugePackLengthFromTheHeaderAlone() {
        expectRejection(
            header(packLen: Int32.max),
            FrameError.bodyTooLarge(size: Int(Int32.max) - 16, limit: Self.maxBody))
    }

    @Test(arguments: InputSplit.all)
    func rejectsAsSoonAsTheHeaderIsComplete(_ split: InputSplit) {
        let stream = header(packLen: 5000)
        var decoder = FrameDecoder(maxBodySize: Self.maxBody)
        var fed = 0

        let error = #expect(throws: FrameError.self) {
            for size in split.chunkSizes(total: stream.count) {
                try decoder.decode(stream[fed..<fed + size]) { _ in }
                fed += size
            }
        }
        #expect(error == .bodyTooLarge(size: 4984, limit: Self.maxBody))
    }

    @Test func isUnusableAfterARejection() throws {
        var decoder = FrameDecoder(maxBodySize: Self.maxBody)
        _ = try? decoder.decode(header(packLen: 0)[...]) { _ in }

        #expect(throws: FrameError.decoderFailed) {
            try decoder.decode(Frame(op: 2).encoded[...]) { _ in }
        }
        #expect(!decoder.hasPartialFrame)
    }

    @Test func isUnusableAfterTheCallbackThrows() throws {
        struct Stop: Error {}
        var decoder = FrameDecoder(maxBodySize: Self.maxBody)
        let stream = Frame(op: 2).encoded + Frame(op: 2).encoded[0..<5]

        #expect(throws: Stop.self) {
            try decoder.decode(stream[...]) { _ in throw Stop() }
        }
        #expect(!decoder.hasPartialFrame)
        #expect(throws: FrameError.decoderFailed) {
            try decoder.decode(Frame(op: 2).encoded[...]) { _ in }
        }
    }

    @Test func describesEachRejectionForHumans() {
        let errors: [FrameError] = [
            .packLengthTooSmall(3), .bodyTooLarge(size: 2000, limit: 1024),
            .invalidHeaderLength(17),
            .decoderFailed,
        ]

        #expect(FrameError.packLengthTooSmall(3).description.contains("3"))
        #expect(Set(errors.map(\.description)).count == errors.count)
    }

    private func expectRejection(_ stream: [UInt8], _ expected: FrameError) {
        var decoder = FrameDecoder(maxBodySize: Self.maxBody)
        var frames = 0

        #expect(throws: expected) {
            try decoder.decode(stream[...]) { _ in frames += 1 }
        }
        #expect(frames == 0)
    }
}

// MARK: - Helpers

/// A 16-byte header with arbitrary (possibly invalid) length fields.
func header(packLen: Int32, headerLen: Int16 = 16, ver: Int16 = 1, op: Int32 = 4, seq: Int32 = 1)
    -> [UInt8]
{
    var bytes: [UInt8] = []
    func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
    append(packLen)
    append(headerLen)
    append(ver)
    append(op)
    append(seq)
    return bytes
}

extension FrameDecoder {
    /// `decode` for a slice of an array.
    mutating func decode(_ slice: ArraySlice<UInt8>, _ onFrame: (Frame) throws -> Void) throws {
        try slice.withUnsafeBytes { try decode($0, onFrame) }
    }
}

/// Feeds `stream` in the chunks `split` gives and checks, after every call, that the decoder
/// holds bytes exactly when the stream stopped inside a frame.
func decodeWithPendingChecks(_ stream: [UInt8], split: InputSplit, expected: [Frame]) throws -> [Frame] {
    let boundaries = Set(expected.reduce(into: [0]) { $0.append($0.last! + $1.encodedSize) })
    var decoder = FrameDecoder(maxBodySize: FrameDecoderTests.maxBody)
    var decoded: [Frame] = []
    var fed = 0

    for size in split.chunkSizes(total: stream.count) {
        try stream[fed..<fed + size].withUnsafeBytes { chunk in
            try decoder.decode(chunk) { decoded.append($0) }
        }
        fed += size
        #expect(decoder.hasPartialFrame == !boundaries.contains(fed))
        #expect(decoder.pendingCapacity == 0 || decoder.hasPartialFrame)
    }
    return decoded
}
