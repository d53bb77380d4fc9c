import IMCore
import Testing

@testable import IMCLI

@Suite struct ClientConnectTests {
    /// A comet that checks nothing: records the auth frame, then runs `script`.
    private func comet(
        _ script: @escaping @Sendable (FakeConnection, Frame) -> Void
    ) throws -> (FakeServer, Recorder<Frame>) {
        let auth = Recorder<Frame>()
        let server = try FakeServer { connection in
            guard let frame = connection.readFrame() else { return }
            auth.append(frame)
            script(connection, frame)
        }
        return (server, auth)
    }

    private static func authReply(to frame: Frame) -> [UInt8] {
        frame.reply(op: Operation.authReply).encoded
    }

    @Test func authenticatesThenPrintsEachPushUntilTheServerCloses() throws {
        let (server, _) = try comet { connection, auth in
            connection.write(Self.authReply(to: auth))
            let batch = Frame.push(Array("{\"a\":1}".utf8)).encoded
                + Frame.push(Array("line1\nline2".utf8)).encoded
            connection.write(batch)
        }

        let result = imctl(["client", "connect", "--token", "123", "--tcp", "127.0.0.1:\(server.port)"])

        #expect(result.status == 1)
        #expect(result.stdout == "{\"a\":1}\nline1\\nline2\n")
        #expect(result.stderr == "authenticated\nError: the server closed the connection\n")
    }

    @Test func authFrameCarriesTheToken() throws {
        let (server, auth) = try comet { _, _ in }

        _ = imctl(["client", "connect", "--tcp", "127.0.0.1:\(server.port)", "--token", "{\"mid\":5}"])

        #expect(server.waitUntilFinished())
        let frame = try #require(auth.values.first)
        #expect(frame == Frame(ver: 1, op: Operation.auth, seq: 1, body: Array("{\"mid\":5}".utf8)))
    }

    @Test func closedBeforeAuthReplyMeansRefused() throws {
        let (server, _) = try comet { _, _ in }

        let result = imctl(["client", "connect", "--token", "x", "--tcp", "127.0.0.1:\(server.port)"])

        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "Error: authentication refused or connection closed\n")
    }

    @Test func heartbeatsFollowTheIntervalAndStopSignalEndsWithExit0() throws {
        let stop = StopSignal()
        let heartbeats = Recorder<Frame>()
        let (server, _) = try comet { connection, auth in
            connection.write(Self.authReply(to: auth))
            for _ in 0..<2 {
                guard let frame = connection.readFrame() else { return }
                heartbeats.append(frame)
                connection.write(frame.reply(op: Operation.heartbeatReply).encoded)
            }
            connection.write(Frame.push(Array("bye".utf8)).encoded)
            _ = connection.read(upTo: 1)  // let the push arrive before stopping
            stop.trigger()
        }

        let result = imctl(
            ["client", "connect", "--token", "1", "--tcp", "127.0.0.1:\(server.port)",
             "--heartbeat", "50ms"],
            stop: stop)

        #expect(result.status == 0)
        #expect(result.stdout == "bye\n")
        let frames = heartbeats.values
        #expect(frames.map(\.op) == [Operation.heartbeat, Operation.heartbeat])
        #expect(frames.map(\.seq) == [2, 3])
        #expect(frames.allSatisfy { $0.ver == 1 && $0.body.isEmpty })
    }

    @Test func jsonModePrintsOneObjectPerPush() throws {
        let (server, _) = try comet { connection, auth in
            connection.write(Self.authReply(to: auth))
            connection.write(Frame.push(Array("say \"hi\"".utf8)).encoded)
            connection.write(Frame.push([0xFF, 0x00]).encoded)
        }

        let result = imctl(
            ["client", "connect", "--json", "--token", "1", "--tcp", "127.0.0.1:\(server.port)"])

        #expect(
            result.stdout == """
                {"op":5,"ver":0,"seq":0,"body":"say \\"hi\\""}
                {"op":5,"ver":0,"seq":0,"body_base64":"/wA="}

                """)
    }

    @Test func unexpectedFirstFrameIsAFailure() throws {
        let (server, _) = try comet { connection, _ in
            connection.write(Frame.push(Array("early".utf8)).encoded)
            _ = connection.read(upTo: 1)
        }

        let result = imctl(["client", "connect", "--token", "1", "--tcp", "127.0.0.1:\(server.port)"])

        #expect(result.status == 1)
        #expect(result.stderr == "Error: unexpected op 5 before the auth reply\n")
    }

    @Test func trustedCAWithoutSecureWebSocketIsAUsageError() {
        let result = imctl([
            "client", "connect", "--token", "1", "--ws", "ws://127.0.0.1:8090/sub", "--tls-ca",
            "ca.pem",
        ])

        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("Error: --tls-ca needs a wss:// URL in --ws\n"))
    }

    @Test func trustedCAOverTCPIsAUsageError() {
        let result = imctl([
            "client", "connect", "--token", "1", "--tcp", "127.0.0.1:8080", "--tls-ca", "ca.pem",
        ])

        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("Error: --tls-ca needs a wss:// URL in --ws\n"))
    }

    @Test func tcpAndWebSocketTogetherIsAUsageError() {
        let result = imctl(
            ["client", "connect", "--token", "1", "--ws", "ws://h:1/sub", "--tcp", "127.0.0.1:1"])

        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("Error: --tcp and --ws cannot be used together\n"))
    }

    @Test func connectionRefusedIsAFailure() throws {
        let port = try FakeServer(connections: 0) { _ in }.port

        let result = imctl(["client", "connect", "--token", "1", "--tcp", "127.0.0.1:\(port)"])

        #expect(result.status == 1)
        #expect(result.stderr == "Error: cannot connect to 127.0.0.1:\(port): Connection refused\n")
    }

    @Test func plainLinesEscapeLineBreaksAndReplaceInvalidUTF8() {
        let frame = Frame.push([0x61, 0x0D, 0x0A, 0xFF, 0x62])

        #expect(PushLine.render(frame, json: false) == "a\\r\\n\u{FFFD}b\n")
    }

    @Test func jsonStringEscapesControlCharacters() {
        #expect(PushLine.jsonString("a\u{01}\t\\/é") == "\"a\\u0001\\t\\\\/é\"")
    }
}
