import IMCore
import IMTestKit
import Testing

@testable import IMNet

private typealias Support = WebSocketTestSupport

/// Decodes `stream` whole and byte by byte and expects both to fail with `code`.
private func expectFailure(
    _ stream: [UInt8], code: UInt16, role: WebSocketRole = .server,
    maxMessageSize: Int = Support.oneMiB, sourceLocation: SourceLocation = #_sourceLocation
) {
    for split in [InputSplit.allAtOnce, .byteByByte, .randomChunks(seed: 5)] {
        let error = Support.failure(
            stream, split: split, role: role, maxMessageSize: maxMessageSize)
        #expect(error?.closeCode == code, "\(split)", sourceLocation: sourceLocation)
        #expect(error.map { $0.reason.utf8.count <= 123 } ?? false, sourceLocation: sourceLocation)
    }
}

@Suite struct WebSocketProtocolErrorTests {
    @Test func refusesAnUnmaskedClientFrame() {
        expectFailure(WebSocketEncoder.text(Array("hi".utf8)).bytes, code: 1002)
    }

    @Test func refusesAMaskedServerFrame() {
        expectFailure(Support.clientFrame(.text, "hi"), code: 1002, role: .client)
    }

    @Test(arguments: [UInt8(0x40), 0x20, 0x10, 0x70])
    func refusesReservedBits(_ bits: UInt8) {
        var frame = Support.clientFrame(.text, "hi")
        frame[0] |= bits

        expectFailure(frame, code: 1002)
    }

    @Test(arguments: [UInt8(3), 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
    func refusesReservedOpcodes(_ opcode: UInt8) {
        expectFailure(Support.clientFrame(WebSocketOpcode(rawValue: opcode), "x"), code: 1002)
    }

    @Test(arguments: [WebSocketOpcode.ping, .pong, .close])
    func refusesAControlFrameOver125Bytes(_ opcode: WebSocketOpcode) {
        expectFailure(Support.clientFrame(opcode, [UInt8](repeating: 0x41, count: 126)), code: 1002)
    }

    @Test func acceptsAPingOfExactly125Bytes() throws {
        let payload = [UInt8](repeating: 7, count: 125)

        #expect(try Support.decode(Support.clientFrame(.ping, payload)) == [.ping(payload)])
    }

    @Test(arguments: [WebSocketOpcode.ping, .pong, .close])
    func refusesAFragmentedControlFrame(_ opcode: WebSocketOpcode) {
        expectFailure(Support.clientFrame(opcode, [], fin: false), code: 1002)
    }

    @Test func refusesAContinuationWithoutAMessage() {
        expectFailure(Support.clientFrame(.continuation, "x"), code: 1002)
    }

    @Test func refusesAContinuationAfterAFinishedMessage() {
        expectFailure(
            Support.clientFrame(.text, "done") + Support.clientFrame(.continuation, "x"), code: 1002
        )
    }

    @Test(arguments: [WebSocketOpcode.text, .binary])
    func refusesANewMessageInsideAFragmentedOne(_ opcode: WebSocketOpcode) {
        let stream =
            Support.clientFrame(.binary, [1], fin: false) + Support.clientFrame(opcode, "x")

        expectFailure(stream, code: 1002)
    }

    @Test func refusesA64BitLengthWithItsHighBitSet() {
        expectFailure(Support.maskedHeader64(opcode: .binary, length: 1 << 63), code: 1002)
    }

    @Test func keepsRefusingAfterAnError() throws {
        var decoder = WebSocketDecoder(role: .server, maxMessageSize: 100)
        let bad = WebSocketEncoder.text(Array("unmasked".utf8)).bytes

        #expect(throws: WebSocketError.self) { try decoder.decode(bad) { _ in } }
        let again = #expect(throws: WebSocketError.self) {
            try decoder.decode(Support.clientFrame(.text, "fine")) { _ in }
        }

        #expect(again?.closeCode == 1002)
        #expect(decoder.heldCapacity == 0)
    }

    @Test func failsWithAnInternalErrorAfterTheHandlerThrows() throws {
        struct HandlerError: Error {}
        var decoder = WebSocketDecoder(role: .server, maxMessageSize: 100)

        #expect(throws: HandlerError.self) {
            try decoder.decode(Support.clientFrame(.text, "a")) { _ in throw HandlerError() }
        }
        let again = #expect(throws: WebSocketError.self) {
            try decoder.decode(Support.clientFrame(.text, "b")) { _ in }
        }

        #expect(again?.closeCode == 1011)
    }
}

// MARK: - Message size

@Suite struct WebSocketMessageSizeTests {
    @Test func refusesADeclared8MiBMessageWithA1MiBLimitBeforeBuffering() throws {
        var decoder = WebSocketDecoder(role: .server, maxMessageSize: Support.oneMiB)
        let header = Support.maskedHeader64(opcode: .binary, length: 8 << 20)

        let error = #expect(throws: WebSocketError.self) {
            try decoder.decode(header) { _ in }
        }

        #expect(error?.closeCode == 1009)
        #expect(decoder.heldCapacity == 0)
    }

    @Test func refusesAMessageOneByteOverTheLimit() {
        expectFailure(
            Support.clientFrame(.binary, [UInt8](repeating: 0, count: 101)), code: 1009,
            maxMessageSize: 100)
    }

    @Test func refusesAFragmentThatWouldTakeTheMessageOverTheLimit() throws {
        var decoder = WebSocketDecoder(role: .server, maxMessageSize: Support.oneMiB)
        let first = Support.clientFrame(.binary, [UInt8](repeating: 1, count: 600_000), fin: false)
        let secondHeader = Support.maskedHeader64(opcode: .continuation, length: 600_000)
        try decoder.decode(first) { _ in }

        let error = #expect(throws: WebSocketError.self) {
            try decoder.decode(secondHeader) { _ in }
        }

        #expect(error?.closeCode == 1009)
        #expect(decoder.heldCapacity == 0)
    }

    @Test func refusesTheLargestDeclaredLength() {
        expectFailure(Support.maskedHeader64(opcode: .text, length: UInt64(Int64.max)), code: 1009)
    }
}

// MARK: - UTF-8

@Suite struct WebSocketTextValidationTests {
    static let euro: [UInt8] = [0xE2, 0x82, 0xAC]

    @Test func acceptsACharacterSplitAcrossFragments() throws {
        let stream =
            Support.clientFrame(.text, [0x41] + Self.euro[0..<2], fin: false)
            + Support.clientFrame(.continuation, Array(Self.euro[2...]) + [0x42])

        #expect(try Support.decode(stream) == [.text([0x41] + Self.euro + [0x42])])
    }

    @Test(arguments: [
        [UInt8(0xFF)], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x80],
        [0xE2, 0x82], [0xF0, 0x9F, 0x98],
    ])
    func refusesInvalidText(_ bytes: [UInt8]) {
        expectFailure(Support.clientFrame(.text, [0x61] + bytes), code: 1007)
    }

    @Test func refusesInvalidTextSplitAcrossFragments() {
        let stream =
            Support.clientFrame(.text, Array(Self.euro[0..<2]), fin: false)
            + Support.clientFrame(.continuation, [0x41])

        expectFailure(stream, code: 1007)
    }

    @Test func refusesAMessageThatEndsInsideACharacter() {
        let stream =
            Support.clientFrame(.text, "ok", fin: false)
            + Support.clientFrame(.continuation, Array(Self.euro[0..<2]))

        expectFailure(stream, code: 1007)
    }

    @Test func failsAsSoonAsAnInvalidByteArrives() throws {
        var decoder = WebSocketDecoder(role: .server, maxMessageSize: 1000)
        let frame = Support.clientFrame(.text, [0x61, 0xFF] + [UInt8](repeating: 0x61, count: 500))

        // Header (8 bytes) plus the first two payload bytes: the frame is far from complete.
        let error = #expect(throws: WebSocketError.self) {
            try decoder.decode(frame[0..<10]) { _ in }
        }

        #expect(error?.closeCode == 1007)
    }

    @Test func acceptsAnyBytesInBinaryMessages() throws {
        let payload: [UInt8] = [0xFF, 0xC0, 0x80, 0xED, 0xA0, 0x80]

        #expect(try Support.decode(Support.clientFrame(.binary, payload)) == [.binary(payload)])
    }
}

// MARK: - Close frames

@Suite struct WebSocketCloseFrameTests {
    @Test(arguments: [
        UInt16(1000), 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000,
        3999, 4000, 4999,
    ])
    func acceptsCodesAllowedOnTheWire(_ code: UInt16) throws {
        let frame = Support.clientFrame(.close, Support.closePayload(code, Array("why".utf8)))

        #expect(try Support.decode(frame) == [.close(code: code, reason: "why")])
    }

    @Test(arguments: [
        UInt16(0), 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, UInt16.max,
    ])
    func refusesCodesNotAllowedOnTheWire(_ code: UInt16) {
        expectFailure(Support.clientFrame(.close, Support.closePayload(code)), code: 1002)
    }

    @Test func refusesAOneBytePayload() {
        expectFailure(Support.clientFrame(.close, [0x03]), code: 1002)
    }

    @Test func refusesAReasonThatIsNotUTF8() {
        expectFailure(Support.clientFrame(.close, Support.closePayload(1000, [0xFF])), code: 1002)
    }

    @Test func acceptsAUTF8Reason() throws {
        let frame = Support.clientFrame(.close, Support.closePayload(4000, Array("bye €".utf8)))

        #expect(try Support.decode(frame) == [.close(code: 4000, reason: "bye €")])
    }
}
