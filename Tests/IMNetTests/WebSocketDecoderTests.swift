import IMCore
import IMTestKit
import Testing

@testable import IMNet

private typealias Support = WebSocketTestSupport

/// A stream mixing every frame kind: single frames, a fragmented text with a ping between its
/// fragments, a fragmented binary with a pong, empty messages and a close at the end.
private let mixedStream =
    mixedMessages + Support.clientFrame(.close, Support.closePayload(1000, Array("bye".utf8)))

private let mixedMessages: [UInt8] =
    Support.clientFrame(.text, "Hello")
    + Support.clientFrame(.binary, [0, 1, 2, 0xFF])
    + Support.clientFrame(.text, "Hel", fin: false)
    + Support.clientFrame(.ping, "p")
    + Support.clientFrame(.continuation, "lo, ", fin: false)
    + Support.clientFrame(.continuation, "wörld €")
    + Support.clientFrame(.binary, [9], fin: false)
    + Support.clientFrame(.pong, [])
    + Support.clientFrame(.continuation, [], fin: false)
    + Support.clientFrame(.continuation, [8, 7])
    + Support.clientFrame(.text, "")
    + Support.clientFrame(.binary, [UInt8](repeating: 0x5A, count: 300))

private let mixedEvents: [WebSocketEvent] = [
    .text(Array("Hello".utf8)),
    .binary([0, 1, 2, 0xFF]),
    .ping(Array("p".utf8)),
    .text(Array("Hello, wörld €".utf8)),
    .pong([]),
    .binary([9, 8, 7]),
    .text([]),
    .binary([UInt8](repeating: 0x5A, count: 300)),
    .close(code: 1000, reason: "bye"),
]

@Suite struct WebSocketDecoderTests {
    @Test func decodesTheRFCMaskedHelloExample() throws {
        let frame: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]

        #expect(try Support.decode(frame) == [.text(Array("Hello".utf8))])
    }

    @Test func decodesTheRFCUnmaskedExamplesAsAClient() throws {
        let hello: [UInt8] = [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F]
        let fragmented: [UInt8] = [0x01, 0x03, 0x48, 0x65, 0x6C, 0x80, 0x02, 0x6C, 0x6F]
        let ping: [UInt8] = [0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F]

        let events = try Support.decode(hello + fragmented + ping, role: .client)

        let hi = Array("Hello".utf8)
        #expect(events == [.text(hi), .text(hi), .ping(hi)])
    }

    @Test(arguments: InputSplit.all)
    func decodesEveryFrameKindWhateverTheSplit(_ split: InputSplit) throws {
        #expect(try Support.decode(mixedStream, split: split) == mixedEvents)
    }

    @Test(arguments: InputSplit.all)
    func decodesServerFramesAsAClientWhateverTheSplit(_ split: InputSplit) throws {
        let stream =
            WebSocketEncoder.text(Array("héllo".utf8)).bytes
            + WebSocketEncoder.ping([1, 2]).bytes
            + WebSocketEncoder.binary([UInt8](repeating: 3, count: 70_000)).bytes
            + WebSocketEncoder.close(code: 1001, reason: "restart").bytes

        let events = try Support.decode(stream, split: split, role: .client)

        #expect(
            events == [
                .text(Array("héllo".utf8)), .ping([1, 2]),
                .binary([UInt8](repeating: 3, count: 70_000)),
                .close(code: 1001, reason: "restart"),
            ])
    }

    @Test func deliversAPingThatArrivesBetweenFragments() throws {
        let stream =
            Support.clientFrame(.text, "a", fin: false) + Support.clientFrame(.ping, "x")
            + Support.clientFrame(.continuation, "b", fin: false)
            + Support.clientFrame(.ping, "y") + Support.clientFrame(.continuation, "c")

        let events = try Support.decode(stream)

        #expect(events == [.ping([0x78]), .ping([0x79]), .text(Array("abc".utf8))])
    }

    @Test func acceptsAMessageOfExactlyTheLimitAcrossFragments() throws {
        let stream =
            Support.clientFrame(.binary, [UInt8](repeating: 1, count: 60), fin: false)
            + Support.clientFrame(.continuation, [UInt8](repeating: 2, count: 40))

        let events = try Support.decode(stream, maxMessageSize: 100)

        #expect(
            events == [.binary([UInt8](repeating: 1, count: 60) + [UInt8](repeating: 2, count: 40))]
        )
    }

    @Test func acceptsLengthsInALongerFormThanNeeded() throws {
        // "Hi" announced with the 16-bit length form, unmasked, read by a client.
        let frame: [UInt8] = [0x82, 126, 0x00, 0x02, 0x48, 0x69]

        #expect(try Support.decode(frame, role: .client) == [.binary([0x48, 0x69])])
    }

    @Test func reportsAnEmptyCloseWithoutACode() throws {
        let events = try Support.decode(Support.clientFrame(.close, []))

        #expect(events == [.close(code: nil, reason: "")])
    }

    @Test func ignoresEverythingAfterAClose() throws {
        var decoder = WebSocketDecoder(role: .server, maxMessageSize: 100)
        var events: [WebSocketEvent] = []
        let stream =
            Support.clientFrame(.close, Support.closePayload(1000))
            + Support.clientFrame(.text, "late") + [0xFF, 0xFF]

        try decoder.decode(stream) { events.append($0) }
        try decoder.decode(Support.clientFrame(.text, "later")) { events.append($0) }

        #expect(events == [.close(code: 1000, reason: "")])
        #expect(decoder.isClosed)
    }
}

// MARK: - Lengths and masking

@Suite struct WebSocketLengthTests {
    static let lengths = [0, 1, 125, 126, 127, 65_535, 65_536, 100_000, (1 << 20) + 3]

    @Test(arguments: lengths)
    func roundTripsAMaskedClientFrameOfEveryLengthForm(_ length: Int) throws {
        var random = SeededGenerator(seed: UInt64(length))
        let payload = random.bytes(length)
        let frame = WebSocketEncoder.maskedFrame(
            .binary, payload: payload, maskKey: UInt32.random(in: .min ... .max, using: &random))

        let events = try Support.decode(frame, maxMessageSize: 2 << 20)

        #expect(
            frame.count == WebSocketEncoder.headerSize(payloadCount: length, masked: true) + length)
        #expect(events == [.binary(payload)])
    }

    @Test(arguments: lengths)
    func roundTripsAnUnmaskedServerFrameOfEveryLengthForm(_ length: Int) throws {
        var random = SeededGenerator(seed: UInt64(length) + 1)
        let payload = random.bytes(length)
        let frame = WebSocketEncoder.binary(payload).bytes

        let events = try Support.decode(frame, role: .client, maxMessageSize: 2 << 20)

        #expect(frame.count == WebSocketEncoder.headerSize(payloadCount: length) + length)
        #expect(events == [.binary(payload)])
    }

    @Test func masksWithEveryPhaseAndLength() throws {
        var random = SeededGenerator(seed: 99)
        for length in 0..<40 {
            let payload = random.bytes(length)
            let key = UInt32.random(in: .min ... .max, using: &random)
            var masked = payload
            masked.withUnsafeMutableBytes { WebSocketMasking.apply(key: key, phase: 0, to: $0) }

            #expect(masked == Self.maskByteByByte(payload, key: key))
            #expect(
                try Support.decode(
                    WebSocketEncoder.maskedFrame(
                        .binary, payload: payload, maskKey: key), split: .byteByByte) == [
                        .binary(payload)
                    ])
        }
    }

    @Test func continuesTheMaskAcrossPiecesFromAnyPhase() {
        var random = SeededGenerator(seed: 7)
        let payload = random.bytes(37)
        let key: UInt32 = 0xA1B2_C3D4
        for cut in 0...payload.count {
            var pieces = payload
            pieces.withUnsafeMutableBytes { all in
                let head = UnsafeMutableRawBufferPointer(rebasing: all[..<cut])
                let tail = UnsafeMutableRawBufferPointer(rebasing: all[cut...])
                WebSocketMasking.apply(key: key, phase: 0, to: head)
                WebSocketMasking.apply(key: key, phase: cut, to: tail)
            }

            #expect(pieces == Self.maskByteByByte(payload, key: key), "cut at \(cut)")
        }
    }

    @Test func usesAFreshRandomKeyPerClientFrame() {
        let payload = [UInt8](repeating: 0, count: 8)
        let keys = Set(
            (0..<8).map { _ in
                Array(WebSocketEncoder.maskedFrame(.binary, payload: payload)[2..<6])
            })

        #expect(keys.count > 1)
    }

    /// The RFC's definition: octet i XOR key octet (i mod 4).
    private static func maskByteByByte(_ payload: [UInt8], key: UInt32) -> [UInt8] {
        payload.enumerated().map { index, byte in
            byte ^ UInt8(truncatingIfNeeded: key >> (24 - 8 * UInt32(index % 4)))
        }
    }
}

// MARK: - Memory

@Suite struct WebSocketDecoderMemoryTests {
    @Test func holdsNothingAfterCompleteFrames() throws {
        var decoder = WebSocketDecoder(role: .server, maxMessageSize: 1 << 20)

        try decoder.decode(mixedMessages) { _ in }
        try decoder.decode(Support.clientFrame(.ping, "after")) { _ in }

        #expect(!decoder.hasPartialMessage)
        #expect(decoder.bufferedByteCount == 0)
        #expect(decoder.heldCapacity == 0)
    }

    @Test func keepsOnlyTheReceivedPartOfAFrame() throws {
        var decoder = WebSocketDecoder(role: .server, maxMessageSize: 1 << 20)
        let frame = Support.clientFrame(.binary, [UInt8](repeating: 1, count: 1000))
        var events: [WebSocketEvent] = []

        try decoder.decode(frame[0..<3]) { events.append($0) }
        #expect(decoder.bufferedByteCount == 3)

        try decoder.decode(frame[3..<108]) { events.append($0) }
        #expect(decoder.bufferedByteCount == 100)
        #expect(decoder.heldCapacity < 1000)

        try decoder.decode(frame[108...]) { events.append($0) }
        #expect(events.count == 1)
        #expect(decoder.heldCapacity == 0)
    }

    @Test func keepsAFragmentedMessageUntilItsLastFrame() throws {
        var decoder = WebSocketDecoder(role: .server, maxMessageSize: 1 << 20)
        var events: [WebSocketEvent] = []

        try decoder.decode(Support.clientFrame(.text, "abc", fin: false)) { events.append($0) }

        #expect(events.isEmpty)
        #expect(decoder.hasPartialMessage)
        #expect(decoder.bufferedByteCount == 3)
    }
}
