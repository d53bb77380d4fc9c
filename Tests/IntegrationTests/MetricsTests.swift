import Foundation
import IMCore
import IMTestKit
import Testing

/// `/metrics` and `/healthz` of a real `imctl serve all`, the metrics page parsed by an
/// independent parser: Python's `prometheus_client` (installed by `scripts/install-deps
/// --test` into the same virtual environment as `websockets`); fails when it is missing (see
/// `ExternalTool`).
@Suite(
    .serialized,
    .enabled(
        if: ExternalTool.shouldRun(whenAvailable: webSocketsPython != nil),
        "python3 with prometheus_client missing"))
struct MetricsTests {
    /// Parses the exposition on stdin and prints every sample as `name{labels} value`, labels
    /// sorted, values in `%g` form, one per line; a parse error fails with a traceback.
    static let parser = #"""
        import sys
        from prometheus_client.parser import text_string_to_metric_families

        for family in text_string_to_metric_families(sys.stdin.read()):
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                print(f"{family.type} {sample.name}{{{labels}}} {sample.value:g}")
        """#

    @Test func scrapeParsesAndCountsConnectionsPushesAndDeliveries() throws {
        let server = try ServeAllTests.startServer()
        defer { server.stop() }
        let http = try #require(server.addresses["http"])
        let ws = try #require(server.addresses["ws"])

        let alice = try ServeAllTests.connect(server, token: "2001", label: "2001")
        let bob = try ServeAllTests.connect(server, token: "2002", label: "2002")
        let browser = try GoimWebSocketTestClient(host: ws.host, port: UInt16(ws.port))
        #expect(try browser.upgrade().status == 101)
        _ = try browser.authenticateJSON(#"{"mid":2003,"room":5}"#)

        let client = HTTPTestClient(http)
        #expect(try client.post("/1/push?uid=2001", body: "one").status == 200)
        #expect(try client.post("/1/push/room?rid=1", body: "two").status == 200)
        #expect(try ServeAllTests.bodies(before: "two", on: alice) == ["one"])
        #expect(try ServeAllTests.bodies(before: "two", on: bob) == [])

        let samples = try scrape(http, until: #"counter imctl_comet_deliveries_total{} 3"#)

        for expected in [
            #"counter imctl_comet_connections_accepted_total{proto="tcp"} 2"#,
            #"counter imctl_comet_connections_accepted_total{proto="ws"} 1"#,
            #"counter imctl_comet_connections_accepted_total{proto="wss"} 0"#,
            #"gauge imctl_comet_connections{proto="tcp"} 2"#,
            #"gauge imctl_comet_connections{proto="ws"} 1"#,
            #"gauge imctl_comet_connections{proto="tcp-tls"} 0"#,
            #"counter imctl_comet_frames_in_total{} 3"#,
            #"counter imctl_comet_deliveries_total{} 3"#,
            #"counter imctl_comet_auth_failures_total{} 0"#,
            #"counter imctl_logic_pushes_total{kind="push"} 1"#,
            #"counter imctl_logic_pushes_total{kind="room"} 1"#,
            #"counter imctl_logic_pushes_total{kind="pushs"} 0"#,
            #"histogram imctl_logic_push_seconds_count{kind="push"} 1"#,
            #"histogram imctl_logic_push_seconds_bucket{kind="room",le="+Inf"} 1"#,
            #"counter imctl_job_consumed_total{op="multiple"} 1"#,
            #"counter imctl_job_consumed_total{op="broadcast_room"} 1"#,
            #"histogram imctl_job_push_seconds_count{op="multiple"} 1"#,
            #"counter imctl_queue_published_total{} 2"#,
            #"gauge imctl_queue_depth{} 0"#,
        ] {
            let found = samples.contains(expected)
            #expect(found, "missing: \(expected)")
        }
    }

    @Test func healthzIsOkOnARunningServer() throws {
        let server = try ServeAllTests.startServer()
        defer { server.stop() }
        let http = try #require(server.addresses["http"])

        let response = try HTTPTestClient(http).get("/healthz")

        #expect(response.status == 200)
        #expect(response.text == "ok\n")
    }

    @Test func routerServesMetricsAndHealthOnItsMetricsListener() throws {
        let router = try ServerProcess(
            arguments: ["serve", "router", "--rpc", "127.0.0.1:0", "--metrics", "127.0.0.1:0"],
            awaiting: ["rpc", "metrics"])
        defer { router.stop() }
        let metrics = try #require(router.addresses["metrics"])

        let samples = try scrape(metrics, until: #"counter imctl_rpc_server_calls_total{} 0"#)
        let health = try HTTPTestClient(metrics).get("/healthz")

        #expect(samples.contains(#"gauge imctl_rpc_server_connections{} 0"#))
        #expect(health.status == 200 && health.text == "ok\n")
        #expect(try HTTPTestClient(metrics).get("/1/push").status == 404)
    }

    /// Scrapes until `sample` shows (counters settle right after the clients got their
    /// pushes), then returns the parsed samples of that scrape.
    private func scrape(_ http: HostPort, until sample: String) throws -> Set<String> {
        let deadline = Date().addingTimeInterval(5)
        var samples: Set<String> = []
        repeat {
            let response = try HTTPTestClient(http).get("/metrics")
            #expect(response.status == 200)
            #expect(response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            samples = try parse(response.text)
            if samples.contains(sample) { return samples }
            usleep(50_000)
        } while Date() < deadline
        Issue.record("no \(sample) within 5 s")
        return samples
    }

    private func parse(_ exposition: String) throws -> Set<String> {
        let python = try #require(webSocketsPython, "\(ExternalTool.missing("prometheus_client"))")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", Self.parser]
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(exposition.utf8))
        try input.fileHandleForWriting.close()

        let watchdog = DispatchWorkItem { [process] in process.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 30, execute: watchdog)
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()

        #expect(
            process.terminationStatus == 0,
            "prometheus_client refused the page: \(String(decoding: stderr, as: UTF8.self))")
        let lines = String(decoding: stdout, as: UTF8.self).split(separator: "\n")
        return Set(lines.map(String.init))
    }
}
