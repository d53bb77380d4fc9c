import IMCore
import IMTestKit
import Testing

@testable import IMComet

@Suite(.serialized)
struct CometSlowClientTests {
    @Test func clientThatStopsReadingIsDisconnectedWhileItsRoomKeepsReceiving() async throws {
        let configuration = CometConfiguration(outboundLimit: 64 << 10)
        try await withComet(configuration) { harness in
            let slow = try await harness.authenticated(
                #"{"mid":1,"room":5}"#, receiveBufferSize: 4096)
            let reader = try await harness.authenticated(#"{"mid":2,"room":5}"#)
            let body = [UInt8](repeating: 0x78, count: 1024)

            var rounds = 0
            while harness.comet.metrics.slowClientDisconnects.current == 0 && rounds < 200 {
                try await harness.comet.broadcastRoom(5, bodies: Array(repeating: body, count: 16))
                let received = try await reader.readFrames(16)
                #expect(received.count == 16)
                rounds += 1
            }

            #expect(harness.comet.metrics.slowClientDisconnects.current == 1)
            #expect(await slow.isClosedByPeer(within: 10))
            try await harness.comet.broadcastRoom(5, bodies: [Array("still flowing".utf8)])
            #expect(try await reader.readFrame()?.text == "still flowing")
            #expect(await eventually { harness.logic.disconnects == [SessionKey(user: 1, seq: 1)] })
        }
    }

    @Test func outputThatMakesNoProgressTimesOut() async throws {
        let configuration = CometConfiguration(
            outboundLimit: 16 << 20, writeTimeout: .milliseconds(500))
        try await withComet(configuration) { harness in
            let slow = try await harness.authenticated("1", receiveBufferSize: 4096)
            let body = [UInt8](repeating: 0x78, count: 64 << 10)

            // Far more than the socket buffers hold, far less than the outbound limit.
            try await harness.comet.push(
                keys: [SessionKey(user: 1, seq: 1)], bodies: Array(repeating: body, count: 64))

            #expect(await eventually(within: .seconds(10)) {
                harness.comet.metrics.slowClientDisconnects.current == 1
            })
            #expect(await slow.isClosedByPeer(within: 10))
        }
    }
}
