import IMCore
import IMNet
import IMQueue
import IMRouter
import Synchronization
import Testing

@testable import IMLogic

/// Pushes answered on the HTTP loop (`respondImmediately`) with `serve all`'s in-process
/// router and memory queue: the same answers, messages and metrics as `handle(_:)`.
@Suite struct ImmediatePushTests {
    /// Calls `respondImmediately` on a loop thread, as the HTTP server does.
    private final class LoopCaller: Sendable {
        let group: EventLoopGroup

        init() throws {
            group = try EventLoopGroup(loopCount: 1)
            group.start()
        }

        deinit { group.shutdown() }

        func respond(_ logic: Logic, to request: HTTPRequest) async -> HTTPResponse? {
            let loop = group.loops[0]
            return await loop.submit { logic.respondImmediately(to: request, on: loop) }
        }
    }

    private func makeLogic(queue: MemoryQueue) throws -> Logic {
        Logic(routers: try RouterSet([("1", Router()), ("2", Router())]), publisher: queue)
    }

    /// Everything published so far; closes the queue so draining cannot wait.
    private func drain(_ queue: MemoryQueue) async throws -> [DispatchMessage] {
        queue.close()
        let received = Mutex<[DispatchMessage]>([])
        try await queue.run { message in received.withLock { $0.append(message) } }
        return received.withLock { $0 }
    }

    private func post(
        _ path: String, _ query: [(name: String, value: String)] = [], body: String = ""
    ) -> HTTPRequest {
        HTTPRequest(method: "POST", path: path, queryItems: query, body: Array(body.utf8))
    }

    /// The requests of every push endpoint, valid and not.
    private var pushRequests: [HTTPRequest] {
        [
            post("/1/push", [("uid", "1001")], body: "one"),
            post("/1/push", [("uid", "-3")]),
            post("/1/push"),
            post("/1/pushs", body: #"{"u":[1002,1001],"m":"many"}"#),
            post("/1/pushs", body: "not json"),
            post("/1/push/all", body: "all"),
            post("/1/push/room", [("rid", "5"), ("ensure", "true")], body: "room"),
            post("/1/push/room", [("rid", "5"), ("ensure", "maybe")]),
        ]
    }

    @Test func pushesGetTheAnswersAndMessagesOfTheTaskPath() async throws {
        let immediateQueue = MemoryQueue()
        let taskQueue = MemoryQueue()
        let immediate = try makeLogic(queue: immediateQueue)
        let task = try makeLogic(queue: taskQueue)
        for logic in [immediate, task] {
            _ = try await logic.connect(server: 1, token: Array("1001".utf8))
            _ = try await logic.connect(server: 2, token: Array("1001".utf8))
            _ = try await logic.connect(server: 2, token: Array("1002".utf8))
        }

        let caller = try LoopCaller()
        var immediateAnswers: [HTTPResponse] = []
        var taskAnswers: [HTTPResponse] = []
        for request in pushRequests {
            immediateAnswers.append(try #require(await caller.respond(immediate, to: request)))
            taskAnswers.append(await task.handle(request))
        }

        #expect(immediateAnswers.map(\.status) == [200, 400, 400, 200, 400, 200, 200, 400])
        #expect(immediateAnswers.map(\.status) == taskAnswers.map(\.status))
        #expect(immediateAnswers.map(\.text) == taskAnswers.map(\.text))
        #expect(immediateAnswers.map(\.contentType) == taskAnswers.map(\.contentType))
        let published = try await drain(immediateQueue)
        #expect(published.count == 6)
        #expect(published == (try await drain(taskQueue)))
        #expect(immediate.metrics.rejectedRequests.current == 4)
        #expect(immediate.metrics.messagesPublished.current == 6)
        #expect(immediate.metrics.pushes(.push).current == 1)
        #expect(immediate.metrics.pushes(.pushs).current == 1)
    }

    @Test func aWaitingConsumerIsWokenAtTheEndOfTheLoopIteration() async throws {
        let queue = MemoryQueue()
        let logic = try makeLogic(queue: queue)
        let received = Mutex<[DispatchMessage]>([])
        let consumer = Task {
            try await queue.run { message in received.withLock { $0.append(message) } }
        }
        #expect(await eventually { queue.hasWaitingConsumer })
        let caller = try LoopCaller()

        let answer = await caller.respond(logic, to: post("/1/push/all", body: "x"))

        #expect(answer?.status == 200)
        // Nothing else wakes the consumer: it gets the message only if the loop woke it.
        #expect(await eventually { received.withLock { !$0.isEmpty } })
        #expect(received.withLock { $0 } == [.broadcast(body: Array("x".utf8))])
        consumer.cancel()
    }

    @Test func fullQueueIsA503OnTheLoopToo() async throws {
        let queue = MemoryQueue(capacity: 1)
        let logic = try makeLogic(queue: queue)
        let request = post("/1/push/all", body: "x")
        let caller = try LoopCaller()

        let first = await caller.respond(logic, to: request)
        let second = await caller.respond(logic, to: request)

        #expect(first?.status == 200)
        #expect(second?.status == 503)
        #expect(second?.text == #"{"ret":65535,"msg":"dispatch queue is full"}"#)
        #expect(logic.metrics.publishFailures.current == 1)
    }

    @Test func otherEndpointsAndMisroutedRequestsGoToTheTaskPath() async throws {
        let logic = try makeLogic(queue: MemoryQueue())
        let caller = try LoopCaller()
        let requests = [
            HTTPRequest(method: "GET", path: "/1/count", queryItems: [("type", "room")]),
            HTTPRequest(method: "GET", path: "/metrics"),
            HTTPRequest(method: "GET", path: "/healthz"),
            post("/1/server/del", [("server", "1")]),
            post("/nowhere"),
            HTTPRequest(method: "GET", path: "/1/push", queryItems: [("uid", "1")]),
        ]

        var answers: [HTTPResponse?] = []
        for request in requests { answers.append(await caller.respond(logic, to: request)) }

        #expect(answers.allSatisfy { $0 == nil })
    }

    @Test func routersThatMustBeAwaitedKeepEveryRequestOnTheTaskPath() async throws {
        let fixture = try LogicFixture()
        let caller = try LoopCaller()

        let answer = await caller.respond(fixture.logic, to: post("/1/push", [("uid", "1")]))

        #expect(answer == nil)
        #expect(fixture.router.lookups.isEmpty)
    }
}
