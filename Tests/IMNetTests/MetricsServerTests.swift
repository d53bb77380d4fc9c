import IMCore
import IMNet
import Synchronization
import Testing

@Suite struct MetricsServerTests {
    /// Starts a metrics server on 127.0.0.1 port 0 and runs `body` with its port.
    private func withMetricsServer(
        _ registry: MetricsRegistry, health: @escaping MetricsServer.HealthCheck = { nil },
        _ body: @escaping @Sendable (Int) throws -> Void
    ) async throws {
        let group = try EventLoopGroup(loopCount: 1)
        group.start()
        let server = MetricsServer(group: group, registry: registry, health: health)
        defer {
            server.stop()
            group.shutdown()
        }
        let address = try server.start(host: "127.0.0.1", port: 0)
        try await onThread { try body(address.port) }
    }

    private static func get(_ path: String, port: Int) throws -> HTTPTestClient.Response {
        let client = try HTTPTestClient(port: port)
        try client.send("GET \(path) HTTP/1.1\r\nHost: test\r\n\r\n")
        return try client.readResponse()
    }

    @Test func servesTheRegistryAsPrometheusText() async throws {
        let registry = MetricsRegistry()
        let counter = Counter("imctl_test_total", help: "a test counter")
        registry.register(counter)
        counter.increment(by: 5)

        try await withMetricsServer(registry) { port in
            let response = try Self.get("/metrics", port: port)

            #expect(response.status == 200)
            #expect(response.header("Content-Type") == PrometheusText.contentType)
            #expect(
                response.text
                    == "# HELP imctl_test_total a test counter\n"
                    + "# TYPE imctl_test_total counter\nimctl_test_total 5\n")
        }
    }

    @Test func healthzAnswersOkOr503WithTheProblem() async throws {
        let problem = Mutex<String?>(nil)
        try await withMetricsServer(MetricsRegistry(), health: { problem.withLock { $0 } }) {
            port in
            let healthy = try Self.get("/healthz", port: port)
            #expect(healthy.status == 200)
            #expect(healthy.text == "ok\n")

            problem.withLock { $0 = "job stopped\nconsumer gone" }
            let sick = try Self.get("/healthz", port: port)
            #expect(sick.status == 503)
            #expect(sick.text == "job stopped consumer gone\n")
        }
    }

    @Test func otherPathsAndMethodsAreRefused() async throws {
        try await withMetricsServer(MetricsRegistry()) { port in
            #expect(try Self.get("/", port: port).status == 404)
            #expect(try Self.get("/metrics/x", port: port).status == 404)

            let client = try HTTPTestClient(port: port)
            try client.send("POST /metrics HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n")
            #expect(try client.readResponse().status == 405)
        }
    }

    @Test func rpcClientTimesEveryCallUnderItsPeerLabel() async throws {
        try await RPCTestSupport.withServerAndClient(handler: RPCTestSupport.echoHandler) {
            server, client in
            _ = try await client.call(method: 1, payload: [1])
            _ = try? await client.call(method: 2, payload: [1, 2])

            #expect(client.metrics.callDuration.count == 2)
            let registry = MetricsRegistry()
            // Every client and server metric has its own series: none is refused as a duplicate.
            let metrics = client.metrics.all + server.metrics.all
            #expect(metrics.count >= 14)
            #expect(registry.register(metrics) == metrics.count)
            let peer = "peer=\"\(client.address)\""
            #expect(
                registry.exposition().contains(
                    "imctl_rpc_client_call_seconds_count{\(peer)} 2\n"))
        }
    }
}
