import IMCore
import Testing

@testable import IMNet

@Suite struct WebSocketEncoderTests {
    @Test func writesTheRFCUnmaskedHelloExample() {
        let frame = WebSocketEncoder.text(Array("Hello".utf8))

        #expect(frame.bytes == [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
    }

    @Test func writesTheRFCMaskedHelloExample() {
        let frame = WebSocketEncoder.maskedFrame(
            .text, payload: Array("Hello".utf8), maskKey: 0x37FA_213D)

        #expect(frame == [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
    }

    @Test func writesTheRFCPingAndMaskedPongExamples() {
        let hello = Array("Hello".utf8)

        #expect(WebSocketEncoder.ping(hello).bytes == [0x89, 0x05] + hello)
        #expect(
            WebSocketEncoder.maskedFrame(.pong, payload: hello, maskKey: 0x37FA_213D)
                == [0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
    }

    @Test func writesTheRFC256ByteAnd64KiBBinaryHeaders() {
        let small = WebSocketEncoder.binary([UInt8](repeating: 0, count: 256)).bytes
        let large = WebSocketEncoder.binary([UInt8](repeating: 0, count: 65_536)).bytes

        #expect(Array(small.prefix(4)) == [0x82, 0x7E, 0x01, 0x00])
        #expect(small.count == 4 + 256)
        #expect(Array(large.prefix(10)) == [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0])
        #expect(large.count == 10 + 65_536)
    }

    @Test(arguments: [
        (0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10), (1 << 32, 10), (Int.max, 10),
    ])
    func sizesHeadersByTheShortestLengthForm(_ length: Int, _ size: Int) {
        #expect(WebSocketEncoder.headerSize(payloadCount: length) == size)
        #expect(WebSocketEncoder.headerSize(payloadCount: length, masked: true) == size + 4)
    }

    @Test func writesAHugeLengthInTheSixtyFourBitForm() {
        var header = [UInt8](repeating: 0, count: 10)

        let size = header.withUnsafeMutableBytes {
            WebSocketEncoder.writeHeader(into: $0, opcode: .binary, payloadCount: 1 << 40)
        }

        #expect(size == 10)
        #expect(header == [0x82, 127, 0, 0, 1, 0, 0, 0, 0, 0])
    }

    @Test func writesANonFinalFrameWithoutTheFinBit() {
        let frame = WebSocketEncoder.maskedFrame(.text, payload: [], fin: false, maskKey: 0)

        #expect(frame == [0x01, 0x80, 0, 0, 0, 0])
    }

    @Test func fillsAFramePayloadInPlace() {
        let frame = WebSocketEncoder.frame(.text, payloadCount: 3) { buffer in
            buffer.copyBytes(from: Array("abc".utf8))
            return 3
        }

        #expect(frame.bytes == [0x81, 0x03, 0x61, 0x62, 0x63])
    }

    @Test func writesACloseFrameWithCodeAndReason() {
        let frame = WebSocketEncoder.close(code: 1008, reason: "token refused")

        #expect(frame.bytes == [0x88, 15, 0x03, 0xF0] + Array("token refused".utf8))
    }

    @Test func cutsALongCloseReasonOnACharacterBoundary() throws {
        let reason = String(repeating: "a", count: 122) + "€€"

        let payload = WebSocketEncoder.closePayload(code: 1000, reason: reason)
        let events = try WebSocketTestSupport.decode(
            WebSocketEncoder.close(code: 1000, reason: reason).bytes, role: .client)

        #expect(payload.count == 2 + 122)
        #expect(events == [.close(code: 1000, reason: String(repeating: "a", count: 122))])
    }
}
