import IMCore
import IMTestKit
import Testing

@testable import IMComet

@Suite(.serialized)
struct CometActiveConnectionTests {
    @Test func heartbeatIsAnsweredAndExtendsTheDeadline() async throws {
        let configuration = CometConfiguration(heartbeatTimeout: .milliseconds(900))
        try await withComet(configuration) { harness in
            let client = try await harness.authenticated("1")

            // Five heartbeats 400 ms apart span twice the timeout.
            for seq in Int32(2)...6 {
                try await client.send(Frame(ver: 2, op: Operation.heartbeat, seq: seq))
                let reply = try #require(try await client.readFrame())
                #expect(reply == Frame(ver: 2, op: Operation.heartbeatReply, seq: seq, body: []))
                try await Task.sleep(for: .milliseconds(400))
            }
            #expect(harness.comet.connectionCount == 1)
            #expect(harness.comet.metrics.heartbeatTimeouts.current == 0)
        }
    }

    @Test func missingHeartbeatClosesTheConnectionAndTellsLogic() async throws {
        let configuration = CometConfiguration(heartbeatTimeout: .milliseconds(500))
        try await withComet(configuration) { harness in
            let client = try await harness.authenticated("31")

            #expect(await client.isClosedByPeer(within: 5))
            let key = SessionKey(user: 31, seq: 1)
            #expect(await eventually { harness.logic.disconnects == [key] })
            #expect(harness.comet.metrics.heartbeatTimeouts.current == 1)
            #expect(harness.comet.connectionCount == 0)
        }
    }

    @Test func fiftyPipelinedMessagesAreEchoedInOrder() async throws {
        try await withComet { harness in
            let client = try await harness.authenticated("1")
            let requests = (1...50).map {
                Frame.request(Operation.sendMessage, seq: Int32($0), body: "message \($0)")
            }
            try await client.sendRaw(requests.flatMap(\.encoded))

            let echoes = try await client.readFrames(50)
            #expect(echoes.count == 50)
            #expect(echoes.map(\.op) == Array(repeating: Operation.sendMessageReply, count: 50))
            #expect(echoes.map(\.seq) == requests.map(\.seq))
            #expect(echoes.map(\.body) == requests.map(\.body))
        }
    }

    @Test func testOperationGetsGoimsTestReply() async throws {
        try await withComet { harness in
            let client = try await harness.authenticated("1")
            try await client.send(Frame(ver: 1, op: Operation.test, seq: 9))

            let reply = try #require(try await client.readFrame())
            #expect(reply.op == Operation.testReply)
            #expect(reply.seq == 9)
            #expect(reply.text == #"{"test":"come on"}"#)
        }
    }

    @Test func unknownOperationClosesOnlyThatConnection() async throws {
        try await withComet { harness in
            let offender = try await harness.authenticated("1")
            let bystander = try await harness.authenticated("2")
            try await offender.send(.request(99, seq: 5))

            #expect(await offender.isClosedByPeer())
            try await bystander.send(.request(Operation.heartbeat, seq: 6))
            #expect(try await bystander.readFrame()?.op == Operation.heartbeatReply)
            #expect(await eventually { harness.logic.disconnects == [SessionKey(user: 1, seq: 1)] })
            #expect(harness.comet.metrics.protocolErrors.current == 1)
        }
    }

    @Test func bodyOfExactlyTheLimitIsEchoedAndOneByteMoreCloses() async throws {
        let configuration = CometConfiguration(maxBodySize: 4096)
        try await withComet(configuration) { harness in
            let client = try await harness.authenticated("1")
            let largest = [UInt8](repeating: 0x61, count: 4096)
            try await client.send(Frame(ver: 1, op: Operation.sendMessage, seq: 2, body: largest))
            #expect(try await client.readFrame()?.body == largest)

            let tooLarge = largest + [0x62]
            try await client.send(Frame(ver: 1, op: Operation.sendMessage, seq: 3, body: tooLarge))
            #expect(await client.isClosedByPeer())
            #expect(harness.comet.metrics.protocolErrors.current == 1)
        }
    }

    @Test(arguments: [
        (packLen: Int32(20), headerLen: Int16(17)),
        (packLen: Int32(3), headerLen: Int16(16)),
    ])
    func malformedHeaderClosesThatClientWhileAnotherKeepsWorking(
        packLen: Int32, headerLen: Int16
    ) async throws {
        try await withComet { harness in
            let offender = try await harness.authenticated("1")
            let bystander = try await harness.authenticated("2")
            let malformed = header(packLen: packLen, headerLen: headerLen) + [1, 2, 3, 4]
            try await offender.sendRaw(malformed)

            #expect(await offender.isClosedByPeer())
            try await bystander.send(.request(Operation.sendMessage, seq: 4, body: "still here"))
            #expect(try await bystander.readFrame()?.text == "still here")
            #expect(harness.comet.metrics.protocolErrors.current == 1)
        }
    }

    private func header(packLen: Int32, headerLen: Int16) -> [UInt8] {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: packLen.bigEndian) { bytes += $0 }
        withUnsafeBytes(of: headerLen.bigEndian) { bytes += $0 }
        withUnsafeBytes(of: Int16(1).bigEndian) { bytes += $0 }
        withUnsafeBytes(of: Operation.sendMessage.bigEndian) { bytes += $0 }
        withUnsafeBytes(of: Int32(1).bigEndian) { bytes += $0 }
        return bytes
    }
}
