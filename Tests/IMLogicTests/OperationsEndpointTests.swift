import IMCore
import IMNet
import IMQueue
import IMRouter
import Testing

@testable import IMLogic

@Suite struct OperationsEndpointTests {
    @Test func metricsServesTheRegistryInPrometheusTextFormat() async throws {
        let fixture = try LogicFixture()
        try await fixture.connect(7, server: 1)
        _ = await fixture.post("/1/push", [("uid", "7")], body: Array("hi".utf8))
        _ = await fixture.post("/1/push/room", [("rid", "1")], body: Array("hi".utf8))

        let response = await fixture.get("/metrics")

        #expect(response.status == 200)
        #expect(response.contentType == "text/plain; version=0.0.4; charset=utf-8")
        let lines = Set(response.text.split(separator: "\n").map(String.init))
        #expect(lines.contains("# TYPE imctl_logic_pushes_total counter"))
        #expect(lines.contains(#"imctl_logic_pushes_total{kind="push"} 1"#))
        #expect(lines.contains(#"imctl_logic_pushes_total{kind="room"} 1"#))
        #expect(lines.contains(#"imctl_logic_pushes_total{kind="all"} 0"#))
        #expect(lines.contains(#"imctl_logic_push_seconds_count{kind="push"} 1"#))
        #expect(lines.contains(#"imctl_logic_push_seconds_bucket{kind="room",le="+Inf"} 1"#))
        #expect(lines.contains("imctl_logic_messages_published_total 2"))
    }

    @Test func refusedPushesAreNotTimed() async throws {
        let fixture = try LogicFixture()
        fixture.publisher.fail(with: .full)

        let response = await fixture.post("/1/push/all", body: Array("hi".utf8))

        #expect(response.status == 503)
        #expect(fixture.logic.metrics.pushLatency(.all).count == 0)
        #expect(fixture.logic.metrics.publishFailures.current == 1)
    }

    @Test func healthIsOkWhenTheQueueTakesMessagesAndARouterAnswers() async throws {
        let fixture = try LogicFixture()

        let response = await fixture.get("/healthz")

        #expect(response.status == 200)
        #expect(response.text == "ok\n")
    }

    /// HEAD is served wherever GET is (the HTTP server leaves the body out).
    @Test(arguments: ["/healthz", "/metrics", "/1/count"])
    func headIsAnsweredLikeGet(path: String) async throws {
        let fixture = try LogicFixture()

        let response = await fixture.logic.handle(
            HTTPRequest(method: "HEAD", path: path, queryItems: [("type", "room")]))

        #expect(response.status == 200)
    }

    @Test func healthIs503WhenTheMemoryQueueIsClosed() async throws {
        let queue = MemoryQueue()
        let logic = Logic(routers: try RouterSet([(name: "1", client: Router())]), publisher: queue)
        queue.close()

        let response = await logic.handle(HTTPRequest(method: "GET", path: "/healthz"))

        #expect(response.status == 503)
        #expect(response.text == "dispatch queue unavailable: queue closed\n")
    }

    @Test func healthIs503WhenTheMemoryQueueIsFull() async throws {
        let queue = MemoryQueue(capacity: 1)
        let logic = Logic(routers: try RouterSet([(name: "1", client: Router())]), publisher: queue)
        try queue.publish(.broadcast(body: []))

        let problem = await logic.healthProblem()

        #expect(problem == "dispatch queue unavailable: queue full")
    }

    @Test func healthIs503NamingEveryRouterWhenNoneAnswers() async throws {
        let fixture = try LogicFixture(routerNames: ["a", "b"])
        fixture.routers.values.forEach { $0.goDown() }

        let response = await fixture.get("/healthz")

        #expect(response.status == 503)
        #expect(response.text.hasPrefix("no router answered: router "))
        #expect(response.text.contains("router a failed (connection refused)"))
        #expect(response.text.contains("router b failed (connection refused)"))
        #expect(response.text.filter { $0 == "\n" }.count == 1)
    }

    @Test func oneAnsweringRouterIsEnough() async throws {
        let fixture = try LogicFixture(routerNames: ["a", "b"])
        fixture.routers["a"]!.goDown()

        #expect(await fixture.logic.healthProblem() == nil)
    }

    @Test func aRecentRouterAnswerSavesTheProbe() async throws {
        let fixture = try LogicFixture()
        try await fixture.connect(7, server: 1)
        let lookupsBefore = fixture.router.lookups.count

        #expect(await fixture.logic.healthProblem() == nil)
        #expect(fixture.router.lookups.count == lookupsBefore)
    }

    @Test func operationsEndpointsAcceptOnlyGet() async throws {
        let fixture = try LogicFixture()

        #expect(await fixture.post("/metrics").status == 405)
        #expect(await fixture.post("/healthz").status == 405)
    }

    @Test func theOwnersRegistryIsServedToo() async throws {
        let registry = MetricsRegistry()
        let extra = Counter("imctl_extra_total", help: "added by the owner")
        registry.register(extra)
        extra.increment()
        let logic = Logic(
            routers: try RouterSet([(name: "1", client: Router())]),
            publisher: RecordingPublisher(), registry: registry)

        let text = await logic.handle(HTTPRequest(method: "GET", path: "/metrics")).text

        #expect(text.contains("imctl_extra_total 1\n"))
        #expect(text.contains("# TYPE imctl_logic_pushes_total counter\n"))
    }
}
