import IMCore
import IMNet
import IMQueue
import IMRouter
import Synchronization
import Testing

@testable import IMLogic

/// Logic wired as `serve all` wires it: real routers and the memory queue.
@Suite struct RealCollaboratorTests {
    private func makeLogic(queue: MemoryQueue) throws -> Logic {
        let routers = try RouterSet([("1", Router()), ("2", Router())])
        return Logic(routers: routers, publisher: queue)
    }

    /// Everything published so far; closes the queue so draining cannot wait.
    private func drain(_ queue: MemoryQueue) async throws -> [DispatchMessage] {
        queue.close()
        let received = Mutex<[DispatchMessage]>([])
        try await queue.run { message in received.withLock { $0.append(message) } }
        return received.withLock { $0 }
    }

    @Test func pushesReachTheQueueGroupedByServer() async throws {
        let queue = MemoryQueue()
        let logic = try makeLogic(queue: queue)
        let phone = try await logic.connect(server: 1, token: Array("1001".utf8)).key
        let laptop = try await logic.connect(server: 2, token: Array("1001".utf8)).key
        let other = try await logic.connect(server: 2, token: Array("1002".utf8)).key

        let single = await logic.handle(
            HTTPRequest(method: "POST", path: "/1/push", queryItems: [("uid", "1001")], body: [1]))
        let many = await logic.handle(
            HTTPRequest(
                method: "POST", path: "/1/pushs",
                body: Array(#"{"u":[1002,1001],"m":{"k" : true}}"#.utf8)))

        let raw = Array(#"{"k" : true}"#.utf8)
        #expect(single.text == #"{"ret":1}"#)
        #expect(many.text == #"{"ret":1}"#)
        // Order holds per comet (per user); the messages of one push to two comets are
        // published side by side.
        let published = try await drain(queue)
        #expect(published.count == 4)
        #expect(
            published.filter { $0.server == 1 } == [
                .multiple(server: 1, keys: [phone], body: [1]),
                .multiple(server: 1, keys: [phone], body: raw),
            ])
        #expect(
            published.filter { $0.server == 2 } == [
                .multiple(server: 2, keys: [laptop], body: [1]),
                .multiple(server: 2, keys: [other, laptop], body: raw),
            ])
    }

    @Test func fullQueueAnswers503() async throws {
        let queue = MemoryQueue(capacity: 1)
        let logic = try makeLogic(queue: queue)
        let request = HTTPRequest(method: "POST", path: "/1/push/all", body: [7])

        let first = await logic.handle(request)
        let second = await logic.handle(request)

        #expect(first.status == 200)
        #expect(second.status == 503)
        #expect(second.text == #"{"ret":65535,"msg":"dispatch queue is full"}"#)
        #expect(try await drain(queue) == [.broadcast(body: [7])])
    }

    @Test func closedQueueAnswers503() async throws {
        let queue = MemoryQueue()
        let logic = try makeLogic(queue: queue)
        queue.close()

        let response = await logic.handle(
            HTTPRequest(method: "POST", path: "/1/push/room", queryItems: [("rid", "3")]))

        #expect(response.status == 503)
        #expect(response.text.hasPrefix(#"{"ret":65535,"msg":"dispatch queue unavailable: "#))
    }
}
