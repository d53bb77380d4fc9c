import IMCore
import IMNet
import Testing

/// The RPC encoding of the comet registration values (methods 203 and 204).
@Suite struct RPCCodecCometTests {
    @Test(arguments: [UInt64.min, 1, UInt64(Int64.max) + 1, UInt64.max])
    func uint64RoundTrips(_ value: UInt64) throws {
        let bytes = RPCEncoder.encode(value)
        #expect(bytes.count == 8)
        #expect(try RPCDecoder.decode(UInt64.self, from: bytes) == value)
    }

    @Test func aRegistrationHasTheDocumentedLayout() throws {
        let registration = CometRegistration(
            server: 3, rpcAddress: "h:1", online: 258, fresh: true)

        let bytes = RPCEncoder.encode(registration)

        #expect(
            bytes == [0, 0, 0, 3] + [0, 0, 0, 3] + Array("h:1".utf8) + [0, 0, 0, 0, 0, 0, 1, 2]
                + [1])
        #expect(try RPCDecoder.decode(CometRegistration.self, from: bytes) == registration)
    }

    @Test func aCometListRoundTrips() throws {
        let list = CometList(
            generation: .max - 1,
            comets: [
                CometMember(server: 1, rpcAddress: "10.0.0.1:7001"),
                CometMember(server: -2, rpcAddress: "[::1]:7002"),
            ])

        #expect(try RPCDecoder.decode(CometList.self, from: RPCEncoder.encode(list)) == list)
    }

    @Test func aRegistrationWithABadFreshFlagIsRefused() {
        var bytes = RPCEncoder.encode(
            CometRegistration(server: 1, rpcAddress: "", online: 0, fresh: false))
        bytes[bytes.count - 1] = 2

        #expect(throws: RPCDecodingError.invalidTag(2)) {
            try RPCDecoder.decode(CometRegistration.self, from: bytes)
        }
    }

    @Test func aForgedMemberCountIsRefusedBeforeAnythingIsReserved() {
        let bytes: [UInt8] = Array(repeating: 0, count: 8) + [0xFF, 0xFF, 0xFF, 0xFF]

        #expect(throws: RPCDecodingError.countTooLarge(count: Int(UInt32.max), remaining: 0)) {
            try RPCDecoder.decode(CometList.self, from: bytes)
        }
    }
}
