import IMCore
import IMNet
import IMTestKit
import Testing

@Suite struct RPCCodecTests {
    // MARK: Round trips

    @Test(arguments: [Int32.min, -1, 0, 1, Int32.max])
    func int32RoundTrips(_ value: Int32) throws {
        #expect(try roundTrip(value) == value)
    }

    @Test(arguments: [Int64.min, -1, 0, 1, Int64.max])
    func int64RoundTrips(_ value: Int64) throws {
        #expect(try roundTrip(value) == value)
        #expect(try roundTrip(Int(value)) == Int(value))
    }

    @Test(arguments: ["", "a", "héllo, 世界 🎉", String(repeating: "x", count: 70_000)])
    func stringRoundTrips(_ value: String) throws {
        #expect(try roundTrip(value) == value)
    }

    @Test func scalarsAndOptionalsRoundTrip() throws {
        #expect(try roundTrip(true) == true)
        #expect(try roundTrip(false) == false)
        #expect(try roundTrip(UInt8(200)) == 200)
        #expect(try roundTrip(UInt32.max) == UInt32.max)
        #expect(try roundTrip(Int32?.none) == nil)
        #expect(try roundTrip(Int32?.some(-7)) == -7)
        #expect(try roundTrip(String??.some(nil)) == .some(nil))
        #expect(try roundTrip(RPCVoid()) == RPCVoid())
    }

    @Test func byteArraysRoundTripWithBinaryContent() throws {
        let all = (0...255).map { UInt8($0) }
        #expect(try roundTrip([UInt8]()) == [])
        #expect(try roundTrip(all) == all)
        #expect(try roundTrip([all, [], [0, 0, 0]]) == [all, [], [0, 0, 0]])
    }

    @Test func collectionsRoundTrip() throws {
        let nested: [[Int32?]] = [[1, nil, 3], [], [nil]]
        #expect(try roundTrip(nested) == nested)

        let counts: [RoomID: Int] = [1: 3, -1: 0, Int32.max: Int.max, 7: -2]
        #expect(try roundTrip(counts) == counts)
        #expect(try roundTrip([ServerID: Int]()) == [:])
    }

    @Test func sessionTypesRoundTrip() throws {
        let key = SessionKey(user: 1001, seq: 3)
        #expect(try roundTrip(key) == key)

        let records = [
            SessionRecord(seq: 1, server: 2, room: nil),
            SessionRecord(seq: 2, server: 1, room: 42),
        ]
        let sessions: [UserID: [SessionRecord]] = [1001: records, -5: [], Int64.max: records]
        #expect(try roundTrip(sessions) == sessions)

        for room in [RoomID?.none, 9] {
            let result = ConnectResult(key: key, room: room)
            #expect(try roundTrip(result) == result)
        }
    }

    // MARK: Layout

    @Test func layoutIsBigEndianWithLengthPrefixes() {
        #expect(RPCEncoder.encode(Int32(0x0102_0304)) == [1, 2, 3, 4])
        #expect(RPCEncoder.encode(Int64(-2)) == [255, 255, 255, 255, 255, 255, 255, 254])
        #expect(RPCEncoder.encode("ab") == [0, 0, 0, 2, 97, 98])
        #expect(RPCEncoder.encode([UInt8]([9, 8])) == [0, 0, 0, 2, 9, 8])
        #expect(RPCEncoder.encode([Int32(1)]) == [0, 0, 0, 1, 0, 0, 0, 1])
        #expect(RPCEncoder.encode(Int32?.none) == [0])
        #expect(RPCEncoder.encode(Int32?.some(1)) == [1, 0, 0, 0, 1])
        #expect(RPCEncoder.encode(true) == [1])
    }

    @Test func sessionRecordLayoutMatchesTheDocumentation() {
        let record = SessionRecord(seq: 1, server: 2, room: 3)
        #expect(RPCEncoder.encode(record) == [0, 0, 0, 1, 0, 0, 0, 2, 1, 0, 0, 0, 3])
        let key = SessionKey(user: 5, seq: 6)
        #expect(RPCEncoder.encode(key) == [0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 6])
    }

    // MARK: Malformed input

    @Test func everyTruncationOfAValueIsRefused() throws {
        let sessions: [UserID: [SessionRecord]] = [
            7: [
                SessionRecord(seq: 1, server: 2, room: 3),
                SessionRecord(seq: 4, server: 5, room: nil),
            ],
        ]
        let bytes = RPCEncoder.encode(sessions)

        for length in 0..<bytes.count {
            #expect(throws: RPCDecodingError.self) {
                _ = try RPCDecoder.decode(
                    [UserID: [SessionRecord]].self, from: Array(bytes.prefix(length)))
            }
        }
    }

    @Test func truncatedIntegerReportsWhatIsMissing() {
        #expect(throws: RPCDecodingError.truncated(needed: 8, remaining: 3)) {
            _ = try RPCDecoder.decode(Int64.self, from: [1, 2, 3])
        }
    }

    @Test(arguments: [
        [0xFF, 0xFF, 0xFF, 0xFF] as [UInt8],  // -1 read as a signed count
        [0x80, 0x00, 0x00, 0x00],  // Int32.min read as a signed count
        [0x00, 0x00, 0x00, 0x05, 1, 2],  // 5 announced, 2 present
    ])
    func hugeOrNegativeCountsAreRefused(_ bytes: [UInt8]) {
        #expect(throws: RPCDecodingError.self) {
            _ = try RPCDecoder.decode(String.self, from: bytes)
        }
        #expect(throws: RPCDecodingError.self) {
            _ = try RPCDecoder.decode([UInt8].self, from: bytes)
        }
        #expect(throws: RPCDecodingError.self) {
            _ = try RPCDecoder.decode([[UInt8]].self, from: bytes)
        }
        #expect(throws: RPCDecodingError.self) {
            _ = try RPCDecoder.decode([RoomID: Int].self, from: bytes)
        }
    }

    @Test func countTooLargeNamesTheCountAndWhatIsLeft() {
        #expect(throws: RPCDecodingError.countTooLarge(count: 0xFFFF_FFFF, remaining: 0)) {
            _ = try RPCDecoder.decode([SessionRecord].self, from: [0xFF, 0xFF, 0xFF, 0xFF])
        }
    }

    @Test func badTagsAreRefused() {
        #expect(throws: RPCDecodingError.invalidTag(2)) {
            _ = try RPCDecoder.decode(Bool.self, from: [2])
        }
        #expect(throws: RPCDecodingError.invalidTag(0xFF)) {
            _ = try RPCDecoder.decode(Int32?.self, from: [0xFF, 0, 0, 0, 1])
        }
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: RPCDecodingError.invalidUTF8) {
            _ = try RPCDecoder.decode(String.self, from: [0, 0, 0, 2, 0xC3, 0x28])
        }
    }

    @Test func duplicateDictionaryKeysAreRefused() {
        let bytes: [UInt8] = [0, 0, 0, 2] + [0, 0, 0, 1] + [0, 0, 0, 0, 0, 0, 0, 5]
            + [0, 0, 0, 1] + [0, 0, 0, 0, 0, 0, 0, 6]
        #expect(throws: RPCDecodingError.duplicateKey) {
            _ = try RPCDecoder.decode([RoomID: Int].self, from: bytes)
        }
    }

    @Test func trailingBytesAreRefused() {
        #expect(throws: RPCDecodingError.trailingBytes(1)) {
            _ = try RPCDecoder.decode(Int32.self, from: [0, 0, 0, 1, 9])
        }
        #expect(throws: RPCDecodingError.trailingBytes(2)) {
            _ = try RPCDecoder.decode(RPCVoid.self, from: [1, 2])
        }
    }

    @Test func randomBytesNeverTrapTheDecoder() {
        var generator = SeededGenerator(seed: 0x5EED)
        var decoded = 0
        for _ in 0..<20_000 {
            let length = Int(generator.next() % 40)
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if (try? RPCDecoder.decode([UserID: [SessionRecord]].self, from: bytes)) != nil {
                decoded += 1
            }
            _ = try? RPCDecoder.decode([[UInt8]].self, from: bytes)
            _ = try? RPCDecoder.decode(ConnectResult.self, from: bytes)
            _ = try? RPCDecoder.decode([String?].self, from: bytes)
        }
        // Mostly garbage; a handful decode (e.g. an empty map).
        #expect(decoded < 20_000)
    }

    @Test func decoderReadsSeveralValuesInSequence() throws {
        var encoder = RPCEncoder()
        encoder.encode(Int32(5))
        encoder.writeString("room")
        encoder.encode([SessionKey(user: 1, seq: 2)])

        var decoder = RPCDecoder(encoder.bytes)
        #expect(try decoder.readInt32() == 5)
        #expect(try decoder.readString() == "room")
        #expect(try decoder.decode([SessionKey].self) == [SessionKey(user: 1, seq: 2)])
        #expect(decoder.remainingCount == 0)
        try decoder.finish()
    }

    private func roundTrip<T: RPCCodable>(_ value: T) throws -> T {
        try RPCDecoder.decode(T.self, from: RPCEncoder.encode(value))
    }
}
