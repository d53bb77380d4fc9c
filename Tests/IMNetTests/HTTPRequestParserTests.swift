import IMTestKit
import Testing

@testable import IMNet

/// Feeds `text` in pieces of `chunkSize` bytes (all at once when nil) and collects the events.
private func parse(
    _ text: String, chunkSize: Int? = nil, limits: HTTPRequestParser.Limits = .init()
) -> [HTTPRequestParser.Event] {
    let parser = HTTPRequestParser(limits: limits)
    let bytes = Array(text.utf8)
    guard let chunkSize else { return parser.parseAll(bytes) }

    var events: [HTTPRequestParser.Event] = []
    for start in stride(from: 0, to: bytes.count, by: chunkSize) {
        events += parser.parseAll(Array(bytes[start..<min(start + chunkSize, bytes.count)]))
    }
    return events
}

private func requests(_ events: [HTTPRequestParser.Event]) -> [HTTPParsedRequest] {
    events.compactMap { event in
        if case .request(let parsed) = event { return parsed }
        return nil
    }
}

/// One word per event, so sequences of events compare easily.
private func kinds(_ events: [HTTPRequestParser.Event]) -> [String] {
    events.map { event in
        switch event {
        case .expectContinue: "continue"
        case .request: "request"
        case .bodyTooLarge: "tooLarge"
        case .malformed(let error): "malformed \(error.status)"
        }
    }
}

private let postWithQuery = """
    POST /1/push?uid=42&op=1000 HTTP/1.1\r
    Host: localhost\r
    Content-Type: application/json\r
    Content-Length: 11\r
    \r
    {"hello":1}
    """

private func get(_ target: String) -> String {
    "GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n"
}

private let chunkedUpload =
    "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"


@Suite struct HTTPRequestParserTests {
    @Test func parsesARequestGivenInOneBuffer() throws {
        let parsed = try #require(requests(parse(postWithQuery)).first)

        #expect(parsed.request.method == "POST")
        #expect(parsed.request.path == "/1/push")
        #expect(parsed.request.query("uid") == "42")
        #expect(parsed.request.query("op") == "1000")
        #expect(parsed.request.header("content-type") == "application/json")
        #expect(parsed.request.headers.count == 3)
        #expect(parsed.request.body == Array(#"{"hello":1}"#.utf8))
        #expect(parsed.keepAlive)
        #expect(!parsed.isUpgrade)
    }

    @Test func headerLookupFoldsOnlyASCIICase() {
        let request = HTTPRequest(
            method: "GET", path: "/", headers: [("x-TOKEN", "a"), ("Straße", "b"), ("X-Token", "c")])

        #expect(request.header("X-Token") == "a")
        #expect(request.header("STRASSE") == nil)
        #expect(request.header("straße") == "b")
        #expect(request.header("X-Toke") == nil)
    }

    @Test(arguments: [1, 2, 3, 7, 16])
    func parsesTheSameRequestWhateverTheSplit(chunkSize: Int) throws {
        let whole = try #require(requests(parse(postWithQuery)).first)
        let events = parse(postWithQuery, chunkSize: chunkSize)
        let split = try #require(requests(events).first)

        #expect(kinds(events) == ["request"])
        #expect(split.request.method == whole.request.method)
        #expect(split.request.path == whole.request.path)
        #expect(split.request.queryItems.map(\.value) == whole.request.queryItems.map(\.value))
        #expect(split.request.headers.map(\.value) == whole.request.headers.map(\.value))
        #expect(split.request.body == whole.request.body)
    }

    @Test func pipelinedRequestsInOneBufferComeOutOneAtATimeInOrder() {
        let text = (1...3).map { "GET /item/\($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined()
        let parser = HTTPRequestParser()
        let bytes = Array(text.utf8)

        let firstStep = bytes.withUnsafeBytes { parser.parse($0) }
        let rest = parser.parseAll(Array(bytes[firstStep.consumed...]))

        #expect(firstStep.consumed == bytes.count / 3)
        #expect(kinds(firstStep.events) == ["request"])
        let paths = requests(firstStep.events + rest).map(\.request.path)
        #expect(paths == ["/item/1", "/item/2", "/item/3"])
    }

    @Test func pipelinedMixSurvivesRandomSplits() {
        let mix = postWithQuery + get("/a?x=1") + chunkedUpload + get("/b")
        let bytes = Array(mix.utf8)
        let whole = requests(HTTPRequestParser().parseAll(bytes)).map(\.request.body)
        var random = SeededGenerator(seed: 42)

        for _ in 0..<50 {
            let parser = HTTPRequestParser()
            var events: [HTTPRequestParser.Event] = []
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + Int(random.next() % 40) + 1)
                events += parser.parseAll(Array(bytes[start..<end]))
                start = end
            }
            #expect(requests(events).map(\.request.body) == whole)
        }
        #expect(whole.count == 4)
    }

    @Test func chunkedBodyWithExtensionsAndTrailerIsDechunked() throws {
        let text = """
            POST /chunks HTTP/1.1\r
            Transfer-Encoding: chunked\r
            \r
            5;name=value\r
            hello\r
            1\r
            ,\r
            6\r
             world\r
            0\r
            X-Checksum: abc\r
            \r
            GET /next HTTP/1.1\r
            \r

            """
        for chunkSize in [nil, 1, 5] {
            let events = parse(text, chunkSize: chunkSize)
            let parsed = requests(events)

            #expect(kinds(events) == ["request", "request"])
            #expect(parsed.first?.request.body == Array("hello, world".utf8))
            #expect(parsed.first?.request.header("X-Checksum") == nil)
            #expect(parsed.last?.request.path == "/next")
        }
    }

    @Test func expectContinueIsReportedWhenTheHeadersEnd() {
        let parser = HTTPRequestParser()
        let head = "POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"

        let afterHeaders = parser.parseAll(Array(head.utf8))
        let afterBody = parser.parseAll(Array("ping".utf8))

        #expect(kinds(afterHeaders) == ["continue"])
        #expect(kinds(afterBody) == ["request"])
        #expect(requests(afterBody).first?.request.body == Array("ping".utf8))
    }

    @Test func expectContinueIsNotReportedForABodyThatIsTooLarge() {
        let head = "POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n"

        let events = parse(head, limits: .init(maxBodySize: 10))

        #expect(kinds(events) == ["tooLarge"])
    }

    @Test func oversizeContentLengthIsRefusedBeforeAnyBodyArrives() {
        let parser = HTTPRequestParser(limits: .init(maxBodySize: 1000))
        let head = "POST /up HTTP/1.1\r\nContent-Length: 1001\r\n\r\n"

        let events = parser.parseAll(Array(head.utf8))

        #expect(kinds(events) == ["tooLarge"])
        #expect(parser.hasFailed)
    }

    @Test func oversizeChunkedBodyIsRefusedAsSoonAsItPassesTheLimit() {
        let parser = HTTPRequestParser(limits: .init(maxBodySize: 10))
        let head = "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"

        let firstChunk = parser.parseAll(Array((head + "8\r\n12345678\r\n").utf8))
        let secondChunk = parser.parseAll(Array("8\r\n1234".utf8))
        let afterFailure = parser.parseAll(Array("5678\r\n0\r\n\r\n".utf8))

        #expect(firstChunk.isEmpty)
        #expect(kinds(secondChunk) == ["tooLarge"])
        #expect(afterFailure.isEmpty)
    }

    @Test(arguments: [
        "GET\r\n\r\n",
        "GET / HTTP/1.1 extra\r\n\r\n",
        "G@T / HTTP/1.1\r\n\r\n",
        "GET / HTTP/x.1\r\n\r\n",
    ])
    func malformedRequestLineIsABadRequest(text: String) {
        #expect(kinds(parse(text)) == ["malformed 400"])
    }

    @Test(arguments: [
        "GET / HTTP/1.1\r\nNo Colon Here\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
    ])
    func badHeaderOrFramingIsABadRequest(text: String) {
        #expect(kinds(parse(text)) == ["malformed 400"])
    }

    @Test func overflowingChunkSizeIsNamedAsSuch() throws {
        let text = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n"

        let events = parse(text)

        guard case .malformed(let error) = try #require(events.last) else {
            Issue.record("expected a malformed request, got \(events)")
            return
        }
        #expect(error == .badRequest("invalid chunk size"))
    }

    @Test func headerSectionOverTheLimitIsRefused() {
        let big = "GET / HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 2000))\r\n\r\n"
        let many = "GET / HTTP/1.1\r\n" + (1...11).map { "X-\($0): 1\r\n" }.joined() + "\r\n"
        let limits = HTTPRequestParser.Limits(maxHeaderSize: 1024, maxHeaderCount: 10)

        #expect(kinds(parse(big, chunkSize: 100, limits: limits)) == ["malformed 431"])
        #expect(kinds(parse(many, limits: limits)) == ["malformed 431"])
    }

    @Test func requestTargetOverTheLimitIsRefused() {
        let text = "GET /\(String(repeating: "a", count: 9000)) HTTP/1.1\r\n\r\n"

        #expect(kinds(parse(text, chunkSize: 512)) == ["malformed 414"])
    }

    @Test func unsupportedMajorVersionIsRefused() {
        #expect(kinds(parse("GET / HTTP/2.0\r\n\r\n")) == ["malformed 505"])
    }

    @Test func pathAndQueryArePercentDecodedWithPlusAsSpaceOnlyInTheQuery() throws {
        let text = "GET /a%20b/c+d%2Fe?name=J%C3%B6rg+M&empty=&flag&&sum=1+2%2B3 HTTP/1.1\r\n\r\n"
        let request = try #require(requests(parse(text)).first).request

        #expect(request.path == "/a b/c+d/e")
        #expect(request.queryItems.map(\.name) == ["name", "empty", "flag", "sum"])
        #expect(request.queryItems.map(\.value) == ["Jörg M", "", "", "1 2+3"])
    }

    @Test(arguments: ["/bad%2", "/ok?x=%zz", "/%G0"])
    func badPercentEscapeIsABadRequest(target: String) {
        #expect(kinds(parse("GET \(target) HTTP/1.1\r\n\r\n")) == ["malformed 400"])
    }

    @Test func absoluteFormTargetYieldsItsPath() throws {
        let text = "GET http://example.com:80/x/y?z=1 HTTP/1.1\r\n\r\n"
        let request = try #require(requests(parse(text)).first).request

        #expect(request.path == "/x/y")
        #expect(request.query("z") == "1")
    }

    @Test(arguments: [
        ("HTTP/1.1", nil, true), ("HTTP/1.1", "close", false), ("HTTP/1.1", "keep-alive", true),
        ("HTTP/1.0", nil, false), ("HTTP/1.0", "keep-alive", true), ("HTTP/1.0", "close", false),
    ] as [(String, String?, Bool)])
    func keepAliveFollowsVersionAndConnectionHeader(
        version: String, connection: String?, keepAlive: Bool
    ) throws {
        let header = connection.map { "Connection: \($0)\r\n" } ?? ""
        let text = "GET / \(version)\r\n\(header)\r\n"

        let parsed = try #require(requests(parse(text)).first)

        #expect(parsed.keepAlive == keepAlive)
    }

    @Test func upgradeRequestIsFlagged() throws {
        let text = """
            GET /sub HTTP/1.1\r
            Connection: Upgrade\r
            Upgrade: websocket\r
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
            \r

            """

        let parsed = try #require(requests(parse(text)).first)

        #expect(parsed.isUpgrade)
        #expect(parsed.request.path == "/sub")
    }

    @Test func headerValuesLoseSurroundingSpaces() throws {
        let text = "GET / HTTP/1.1\r\nX-Pad:   padded value  \r\n\r\n"

        let request = try #require(requests(parse(text, chunkSize: 3)).first).request

        #expect(request.header("x-pad") == "padded value")
    }
}
