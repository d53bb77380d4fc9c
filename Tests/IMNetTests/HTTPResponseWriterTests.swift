import Testing

@testable import IMNet

private func text(_ response: HTTPResponse, closing: Bool = false, omitBody: Bool = false)
    -> String
{
    let chunk = HTTPResponseWriter.serialize(response, closing: closing, omitBody: omitBody)
    return String(decoding: chunk.bytes, as: UTF8.self)
}

@Suite struct HTTPResponseWriterTests {
    @Test func writesStatusHeadersLengthAndBodyInOneBuffer() {
        let response = HTTPResponse.json(#"{"ret":1}"#)

        #expect(
            text(response)
                == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n"
                + #"{"ret":1}"#)
    }

    @Test func closingAddsConnectionClose() {
        #expect(
            text(HTTPResponse(status: 404), closing: true)
                == "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    }

    @Test func framingHeadersFromTheHandlerAreReplaced() {
        let response = HTTPResponse(
            status: 200,
            headers: [("content-length", "999"), ("Connection", "keep-alive"), ("X-A", "1")],
            body: [1, 2])

        #expect(
            text(response) == "HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\n\r\n\u{1}\u{2}")
    }

    @Test func lineBreaksInHeaderValuesCannotSplitTheResponse() {
        let response = HTTPResponse(status: 200, headers: [("X-Echo", "a\r\nSet-Cookie: b")])

        #expect(text(response).contains("X-Echo: a  Set-Cookie: b\r\n"))
    }

    @Test func headResponseKeepsTheLengthButNotTheBody() {
        #expect(
            text(.text(status: 200, "hello"), omitBody: true)
                == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                + "Content-Length: 5\r\n\r\n")
    }

    @Test func noContentHasNoLengthOrBody() {
        #expect(text(HTTPResponse(status: 204, body: [1])) == "HTTP/1.1 204 No Content\r\n\r\n")
    }

    @Test(arguments: [
        (100, "Continue"), (201, "Created"), (400, "Bad Request"), (405, "Method Not Allowed"),
        (408, "Request Timeout"), (411, "Length Required"), (413, "Content Too Large"),
        (414, "URI Too Long"), (415, "Unsupported Media Type"),
        (431, "Request Header Fields Too Large"), (500, "Internal Server Error"),
        (501, "Not Implemented"), (503, "Service Unavailable"),
        (505, "HTTP Version Not Supported"), (599, "Server Error"),
    ])
    func knowsReasonPhrases(status: Int, phrase: String) {
        #expect(HTTPResponseWriter.reasonPhrase(for: status) == phrase)
    }

    @Test func failureBodyIsEscapedJSON() {
        let response = HTTPResponse.failure(status: 400, "bad \"uid\"\n\u{1}")

        #expect(response.status == 400)
        #expect(response.header("Content-Type") == "application/json")
        #expect(
            String(decoding: response.body, as: UTF8.self)
                == #"{"ret":65535,"msg":"bad \"uid\"\n\u0001"}"#)
    }
}
