import IMCore
import Testing

@Suite struct FrameTests {
    @Test func encodesGoimAuthRequestBytes() {
        let frame = Frame(ver: 1, op: Operation.auth, seq: 1, body: Array("123".utf8))

        #expect(
            hex(frame.encoded) == "00000013" + "0010" + "0001" + "00000007" + "00000001" + "313233")
    }

    @Test func encodesEmptyBodyAsBareHeader() {
        let frame = Frame(ver: 1, op: Operation.heartbeat, seq: 2)

        #expect(hex(frame.encoded) == "00000010" + "0010" + "0001" + "00000002" + "00000002")
        #expect(frame.encodedSize == Frame.headerSize)
    }

    @Test func encodesNegativeFieldsInTwosComplement() {
        let frame = Frame(ver: -1, op: -2, seq: Int32.min)

        #expect(hex(frame.encoded) == "00000010" + "0010" + "ffff" + "fffffffe" + "80000000")
    }

    @Test func encodeIntoAppendsAfterExistingBytes() {
        var buffer: [UInt8] = [0xAA]
        Frame(ver: 0, op: 5, seq: 0, body: [1, 2]).encode(into: &buffer)

        #expect(buffer.count == 1 + 18)
        #expect(buffer[0] == 0xAA)
        #expect(Array(buffer[17...]) == [1, 2])
    }

    @Test func pushFrameMatchesGoimExample() {
        let frame = Frame.push(Array(#"{"test":1}"#.utf8))

        #expect(
            hex(frame.encoded)
                == "0000001a" + "0010" + "0000" + "00000005" + "00000000" + "7b2274657374223a317d")
    }

    @Test func replyEchoesVersionAndSequence() {
        let request = Frame(ver: 3, op: Operation.heartbeat, seq: 42)
        let reply = request.reply(op: Operation.heartbeatReply)

        #expect(reply == Frame(ver: 3, op: Operation.heartbeatReply, seq: 42))
    }

    @Test func pushBatchChunkConcatenatesPushFrames() {
        let bodies: [[UInt8]] = [Array("a".utf8), [], Array("hello".utf8)]

        let chunk = Frame.pushBatchChunk(bodies)

        let expected = bodies.flatMap { Frame.push($0).encoded }
        #expect(chunk.bytes == expected)
        #expect(chunk.count == bodies.reduce(0) { $0 + Frame.encodedSize(bodyCount: $1.count) })
    }

    @Test func pushBatchChunkOfNothingIsEmpty() {
        #expect(Frame.pushBatchChunk([]).count == 0)
    }

    @Test func writePushWritesAtOffsetAndReportsSize() {
        var buffer = [UInt8](repeating: 0xEE, count: 40)
        let body: [UInt8] = [9, 8, 7]

        let written = buffer.withUnsafeMutableBytes { target in
            body.withUnsafeBytes { Frame.writePush(body: $0, into: target, at: 4) }
        }

        #expect(written == 19)
        #expect(Array(buffer[4..<23]) == Frame.push(body).encoded)
        #expect(buffer[0..<4].allSatisfy { $0 == 0xEE })
        #expect(buffer[23...].allSatisfy { $0 == 0xEE })
    }

    @Test func operationNamesFollowGoim() {
        #expect(Operation.name(of: Operation.heartbeat) == "OP_HEARTBEAT")
        #expect(Operation.name(of: Operation.testReply) == "OP_TEST_REPLY")
        #expect(Operation.name(of: 1000) == nil)
        #expect(Operation.push == 5)
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
}
