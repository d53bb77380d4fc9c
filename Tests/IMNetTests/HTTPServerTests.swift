import Foundation
import Testing

@testable import IMNet

/// Answers with the request's method, path, query and body, so tests see what arrived.
private let echo = ClosureHandler { request in
    let query = request.queryItems.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    let body = String(decoding: request.body, as: UTF8.self)
    return .text(status: 200, "\(request.method) \(request.path)?\(query) \(body)")
}

/// Sleeps a random 0–20 ms before answering with the path: later requests often finish first.
private let jittery = ClosureHandler { request in
    try? await Task.sleep(for: .milliseconds(Int.random(in: 0...20)))
    return .text(status: 200, request.path)
}

/// Answers every request with `size` bytes.
private func large(_ size: Int) -> ClosureHandler {
    ClosureHandler { _ in HTTPResponse(status: 200, body: [UInt8](repeating: 7, count: size)) }
}

private func get(_ path: String) -> String {
    "GET \(path) HTTP/1.1\r\nHost: test\r\n\r\n"
}

/// Starts a server, connects a client and runs `session` with it on a thread of its own.
private func session<T: Sendable>(
    _ configuration: HTTPServer.Configuration = .init(), handler: any HTTPHandler,
    _ session: @escaping @Sendable (HTTPTestClient) throws -> T
) async throws -> T {
    try await withHTTPServer(configuration: configuration, handler: handler) { _, port in
        try await onThread { try session(HTTPTestClient(port: port)) }
    }
}

@Suite struct HTTPServerTests {
    @Test func keepAliveConnectionServesOneHundredSequentialRequests() async throws {
        let bodies = try await session(handler: echo) { client in
            try (0..<100).map { index in
                try client.send(get("/n/\(index)?i=\(index)"))
                return try client.readResponse().text
            }
        }

        #expect(bodies == (0..<100).map { "GET /n/\($0)?i=\($0) " })
    }

    @Test func pipelinedRequestsSentInOneWriteAreAnsweredInOrder() async throws {
        let paths = try await session(handler: jittery) { client in
            try client.send((0..<10).map { get("/p/\($0)") }.joined())
            return try (0..<10).map { _ in try client.readResponse().text }
        }

        #expect(paths == (0..<10).map { "/p/\($0)" })
    }

    @Test func pipeliningPastTheInFlightCapStillAnswersEverythingInOrder() async throws {
        let configuration = HTTPServer.Configuration(maxInFlightPerConnection: 2)

        let paths = try await session(configuration, handler: jittery) { client in
            try client.send((0..<40).map { get("/p/\($0)") }.joined())
            return try (0..<40).map { _ in try client.readResponse().text }
        }

        #expect(paths == (0..<40).map { "/p/\($0)" })
    }

    @Test func chunkedPostBodyReachesTheHandler() async throws {
        let request = """
            POST /1/push?uid=7 HTTP/1.1\r
            Host: test\r
            Transfer-Encoding: chunked\r
            \r
            4;ext=1\r
            {"a"\r
            4\r
            :12}\r
            0\r
            \r

            """

        let response = try await session(handler: echo) { client in
            try client.send(request)
            return try client.readResponse()
        }

        #expect(response.status == 200)
        #expect(response.text == #"POST /1/push?uid=7 {"a":12}"#)
    }

    @Test func expectContinueGetsContinueBeforeTheFinalResponse() async throws {
        let head = "POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"

        let (interim, final) = try await session(handler: echo) { client in
            try client.send(head)
            let interim = try client.readResponse()
            try client.send("hello")
            return (interim.status, try client.readResponse().text)
        }

        #expect(interim == 100)
        #expect(final == "POST /up? hello")
    }

    @Test func continueWaitsForTheAnswersToEarlierPipelinedRequests() async throws {
        let slowFirst = ClosureHandler { request in
            if request.path == "/slow" { try? await Task.sleep(for: .milliseconds(150)) }
            return .text(status: 200, request.path)
        }
        let upload = "POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"

        let answers = try await session(handler: slowFirst) { client in
            try client.send(get("/slow") + upload)
            let first = try client.readResponse()
            let interim = try client.readResponse()
            try client.send("ok")
            let last = try client.readResponse()
            return [first.text, "\(interim.status)", last.text]
        }

        #expect(answers == ["/slow", "100", "/up"])
    }

    @Test func oversizeBodyGets413AndTheConnectionCloses() async throws {
        let configuration = HTTPServer.Configuration(maxBodySize: 1000)
        let head = "POST /up HTTP/1.1\r\nContent-Length: 5000\r\n\r\n"

        let (response, closed) = try await session(configuration, handler: echo) { client in
            try client.send(head + String(repeating: "x", count: 2000))
            return (try client.readResponse(), client.waitForClose())
        }

        #expect(response.status == 413)
        #expect(response.header("Connection") == "close")
        #expect(response.text.hasPrefix(#"{"ret":65535,"msg":"#))
        #expect(closed)
    }

    @Test func oversizeChunkedBodyGets413() async throws {
        let configuration = HTTPServer.Configuration(maxBodySize: 100)
        let chunk = "40\r\n" + String(repeating: "y", count: 64) + "\r\n"
        let request = "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk

        let (response, closed) = try await session(configuration, handler: echo) { client in
            try client.send(request)
            return (try client.readResponse(), client.waitForClose())
        }

        #expect(response.status == 413)
        #expect(closed)
    }

    @Test(arguments: [
        ("GET / HTTP/1.1 junk\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400),
        ("GET /\(String(repeating: "u", count: 9000)) HTTP/1.1\r\n\r\n", 414),
        ("GET / HTTP/1.1\r\nX-Big: \(String(repeating: "h", count: 17000))\r\n\r\n", 431),
    ])
    func refusedRequestGetsItsStatusThenTheConnectionCloses(request: String, status: Int)
        async throws
    {
        let (response, closed) = try await session(handler: echo) { client in
            try client.send(request)
            return (try client.readResponse(), client.waitForClose())
        }

        #expect(response.status == status)
        #expect(response.header("Content-Type") == "application/json")
        #expect(response.text.contains(#""ret":65535"#))
        #expect(closed)
    }

    @Test func responsesBeforeAMalformedRequestAreStillWrittenInOrder() async throws {
        let (first, second) = try await session(handler: jittery) { client in
            try client.send(get("/first") + "NOT HTTP AT ALL\r\n\r\n")
            return (try client.readResponse(), try client.readResponse())
        }

        #expect(first.text == "/first")
        #expect(second.status == 400)
    }

    @Test func routerAnswers404And405OverTheWire() async throws {
        var router = HTTPRouter()
        router.post("/1/push") { _ in .json(#"{"ret":1}"#) }

        let responses = try await session(handler: router) { client in
            try client.send(get("/nowhere") + get("/1/push"))
            return [try client.readResponse(), try client.readResponse()]
        }

        #expect(responses.map(\.status) == [404, 405])
        #expect(responses[1].header("Allow") == "POST")
        #expect(responses.allSatisfy { $0.text.contains(#""ret":65535"#) })
    }

    @Test func http10WithoutKeepAliveIsAnsweredThenClosed() async throws {
        let (response, closed) = try await session(handler: echo) { client in
            try client.send("GET /old HTTP/1.0\r\n\r\n")
            return (try client.readResponse(), client.waitForClose())
        }

        #expect(response.text == "GET /old? ")
        #expect(response.header("Connection") == "close")
        #expect(closed)
    }

    @Test func http10WithKeepAliveStaysOpen() async throws {
        let request = "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"

        let responses = try await session(handler: echo) { client in
            try client.send(request)
            let first = try client.readResponse()
            try client.send(request)
            return [first, try client.readResponse()]
        }

        #expect(responses.map { $0.header("Connection") } == ["keep-alive", "keep-alive"])
    }

    @Test func halfClosedClientStillGetsItsResponses() async throws {
        let (paths, closed) = try await session(handler: jittery) { client in
            try client.send(get("/a") + get("/b"))
            client.shutdownWrite()
            let paths = try [client.readResponse().text, client.readResponse().text]
            return (paths, client.waitForClose())
        }

        #expect(paths == ["/a", "/b"])
        #expect(closed)
    }

    @Test func headResponseHasTheLengthButNoBody() async throws {
        let (head, next) = try await session(handler: echo) { client in
            try client.send("HEAD /h HTTP/1.1\r\n\r\n")
            let head = try client.readResponse(headOnly: true)
            try client.send(get("/after"))
            return (head, try client.readResponse())
        }

        #expect(head.header("Content-Length") == "\("HEAD /h? ".utf8.count)")
        #expect(head.body.isEmpty)
        #expect(next.text == "GET /after? ")
    }

    @Test func idleConnectionIsClosedAfterTheTimeout() async throws {
        let configuration = HTTPServer.Configuration(idleTimeout: .milliseconds(300))

        let (closed, idleCloses) = try await withHTTPServer(
            configuration: configuration, handler: echo
        ) { server, port in
            let closed = try await onThread {
                let client = try HTTPTestClient(port: port)
                try client.send(get("/once"))
                _ = try client.readResponse()
                return client.waitForClose()
            }
            return (closed, server.metrics.idleCloses.current)
        }

        #expect(closed)
        #expect(idleCloses == 1)
    }

    @Test func clientThatNeverReadsIsDisconnected() async throws {
        let configuration = HTTPServer.Configuration(
            idleTimeout: .milliseconds(500), maxOutboundBytes: 256 * 1024)

        let dropped = try await withHTTPServer(
            configuration: configuration, handler: large(1 << 20)
        ) { server, port in
            let client = try HTTPTestClient(port: port, receiveBuffer: 4096)
            try client.send((0..<16).map { get("/big/\($0)") }.joined())
            return await eventually {
                server.metrics.slowReaders.current + server.metrics.idleCloses.current > 0
            }
        }

        #expect(dropped)
    }

    @Test func clientThatStopsReadingPausesTheConnectionUntilTheTimeout() async throws {
        let configuration = HTTPServer.Configuration(
            idleTimeout: .milliseconds(300), maxInFlightPerConnection: 1)

        let (handled, idleCloses) = try await withHTTPServer(
            configuration: configuration, handler: large(8 << 20)
        ) { server, port in
            let client = try HTTPTestClient(port: port, receiveBuffer: 4096)
            try client.send((0..<4).map { get("/big/\($0)") }.joined())
            _ = await eventually { server.metrics.idleCloses.current > 0 }
            return (server.metrics.requests.current, server.metrics.idleCloses.current)
        }

        #expect(handled == 1)
        #expect(idleCloses == 1)
    }

    @Test func stopClosesOpenConnectionsAndReleasesTheirDescriptors() async throws {
        let fileLimit = FileLimit(limit: 1000, spare: 0)
        let configuration = HTTPServer.Configuration(fileLimit: fileLimit)

        let (closed, released) = try await withHTTPServer(
            configuration: configuration, handler: echo
        ) { server, port in
            let client = try HTTPTestClient(port: port)
            let served = try await onThread {
                try client.send(get("/x"))
                return try client.readResponse().status
            }
            #expect(served == 200)
            #expect(fileLimit.reserved == 1)

            server.stop()
            let closed = try await onThread { client.waitForClose() }
            return (closed, await eventually { fileLimit.reserved == 0 })
        }

        #expect(closed)
        #expect(released)
    }
}
