import Foundation
import Synchronization
import Testing

@testable import IMNet

/// Answers paths under `/now/` on the loop (`respondImmediately`) and every other path on a
/// task after a random 0–20 ms, so the two paths interleave on one connection.
private final class MixedHandler: HTTPHandler {
    let immediateAnswers = Atomic<Int>(0)
    let taskAnswers = Atomic<Int>(0)

    func respondImmediately(to request: HTTPRequest, on loop: EventLoop) -> HTTPResponse? {
        guard request.path.hasPrefix("/now/") else { return nil }
        immediateAnswers.add(1, ordering: .relaxed)
        return .text(status: 200, "now \(request.method) \(request.path)")
    }

    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        taskAnswers.add(1, ordering: .relaxed)
        try? await Task.sleep(for: .milliseconds(Int.random(in: 0...20)))
        return .text(status: 200, "later \(request.method) \(request.path)")
    }
}

private func get(_ path: String, version: String = "1.1") -> String {
    "GET \(path) HTTP/\(version)\r\nHost: test\r\n\r\n"
}

/// Runs `session` with a client of a server for `handler`, on a thread of its own.
private func session<T: Sendable>(
    _ handler: MixedHandler, _ session: @escaping @Sendable (HTTPTestClient) throws -> T
) async throws -> T {
    try await withHTTPServer(handler: handler) { _, port in
        try await onThread { try session(HTTPTestClient(port: port)) }
    }
}

@Suite struct HTTPImmediateAnswerTests {
    @Test func pipelinedImmediateAndTaskAnswersKeepRequestOrder() async throws {
        let handler = MixedHandler()
        let paths = (0..<20).map { $0 % 3 == 0 ? "/later/\($0)" : "/now/\($0)" }

        let bodies = try await session(handler) { client in
            try client.send(paths.map { get($0) }.joined())
            return try paths.map { _ in try client.readResponse().text }
        }

        #expect(bodies == paths.map { ($0.hasPrefix("/now/") ? "now GET " : "later GET ") + $0 })
        #expect(handler.immediateAnswers.load(ordering: .relaxed) == 13)
        #expect(handler.taskAnswers.load(ordering: .relaxed) == 7)
    }

    @Test func immediateAnswerToHeadHasTheLengthButNoBody() async throws {
        let handler = MixedHandler()

        let (head, next) = try await session(handler) { client in
            try client.send("HEAD /now/h HTTP/1.1\r\n\r\n")
            let head = try client.readResponse(headOnly: true)
            try client.send(get("/now/after"))
            return (head, try client.readResponse())
        }

        #expect(head.header("Content-Length") == "\("now HEAD /now/h".utf8.count)")
        #expect(head.body.isEmpty)
        #expect(next.text == "now GET /now/after")
    }

    @Test func immediateAnswerToHTTP10ClosesOrKeepsAliveAsAsked() async throws {
        let handler = MixedHandler()

        let (kept, closing, closed) = try await session(handler) { client in
            try client.send("GET /now/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let kept = try client.readResponse()
            try client.send(get("/now/b", version: "1.0"))
            return (kept, try client.readResponse(), client.waitForClose())
        }

        #expect(kept.header("Connection") == "keep-alive")
        #expect(closing.header("Connection") == "close")
        #expect(closing.text == "now GET /now/b")
        #expect(closed)
    }

    @Test func immediateAnswersBeforeAMalformedRequestAreWrittenFirst() async throws {
        let handler = MixedHandler()

        let (first, second, closed) = try await session(handler) { client in
            try client.send(get("/now/first") + "NOT HTTP AT ALL\r\n\r\n")
            return (try client.readResponse(), try client.readResponse(), client.waitForClose())
        }

        #expect(first.text == "now GET /now/first")
        #expect(second.status == 400)
        #expect(closed)
    }
}
