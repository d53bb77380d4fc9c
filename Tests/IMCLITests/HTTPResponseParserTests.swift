import Testing

@testable import IMCLI

@Suite struct HTTPResponseParserTests {
    private func parse(_ pieces: [String], endOfStream: Bool = false) throws
        -> LogicHTTPClient.Response?
    {
        var parser = HTTPResponseParser(maxBody: 1 << 20)
        var response: LogicHTTPClient.Response?
        for piece in pieces {
            parser.append(Array(piece.utf8)[...])
            response = try parser.response(atEndOfStream: false)
        }
        return endOfStream ? try parser.response(atEndOfStream: true) : response
    }

    @Test func contentLengthBodyCompletesAcrossReads() throws {
        let incomplete = try parse(["HTTP/1.1 200 OK\r\nContent-Le", "ngth: 9\r\n\r\n{\"ret\""])
        let complete = try parse(["HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{\"ret\"", ":1}"])

        #expect(incomplete == nil)
        #expect(complete == LogicHTTPClient.Response(status: 200, body: Array("{\"ret\":1}".utf8)))
    }

    @Test func interimContinueResponseIsSkipped() throws {
        let response = try parse([
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
        ])

        #expect(response?.status == 201)
        #expect(response?.body == Array("ok".utf8))
    }

    @Test func chunkedBodyIsDechunkedOnlyOnceComplete() throws {
        let partial = try parse(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"])
        let whole = try parse([
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n"
        ])

        #expect(partial == nil)
        #expect(whole?.body == Array("abc0123456789".utf8))
    }

    @Test func bodyWithoutLengthEndsAtEndOfStream() throws {
        let open = try parse(["HTTP/1.0 200 OK\r\n\r\npartial"])
        let closed = try parse(["HTTP/1.0 200 OK\r\n\r\nall of it"], endOfStream: true)

        #expect(open == nil)
        #expect(closed?.body == Array("all of it".utf8))
    }

    @Test func oversizedBodyIsRefused() {
        var parser = HTTPResponseParser(maxBody: 4)
        parser.append(Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n".utf8)[...])

        #expect(throws: SocketError("response body too large")) {
            try parser.response(atEndOfStream: false)
        }
    }

    @Test func garbageIsAMalformedResponse() {
        var parser = HTTPResponseParser(maxBody: 1024)
        parser.append(Array("SSH-2.0-OpenSSH\r\n\r\n".utf8)[...])

        #expect(throws: SocketError("malformed HTTP response from logic")) {
            try parser.response(atEndOfStream: false)
        }
    }
}
