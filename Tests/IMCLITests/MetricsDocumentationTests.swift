import Foundation
import IMCore
import IMNet
import Testing

@testable import IMCLI

/// docs/metrics.md lists every metric imctl can expose, and nothing else.
@Suite struct MetricsDocumentationTests {
    static let root = GeneratedFilesTests.repositoryRoot

    /// The names in the first column of the tables of docs/metrics.md.
    static func documentedNames() throws -> Set<String> {
        let text = try String(
            contentsOf: root.appendingPathComponent("docs/metrics.md"), encoding: .utf8)
        return Set(
            text.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("| `imctl_") else { return nil }
                return line.dropFirst(3).split(separator: "`").first.map(String.init)
            })
    }

    /// Every `"imctl_..."` string literal under Sources/: the metric names in the code.
    static func namesInSources() throws -> Set<String> {
        let sources = root.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        let pattern = try Regex(#""(imctl_[a-z0-9_]+)""#)
        var names = Set<String>()
        while let file = files?.nextObject() as? URL {
            guard file.pathExtension == "swift" else { continue }
            let text = try String(contentsOf: file, encoding: .utf8)
            for match in text.matches(of: pattern) {
                if let name = match.output[1].substring { names.insert(String(name)) }
            }
        }
        return names
    }

    @Test func everyMetricNameInTheCodeIsDocumentedAndNoOtherIs() throws {
        let documented = try Self.documentedNames()
        let inCode = try Self.namesInSources()

        #expect(inCode.count > 40)
        #expect(inCode.subtracting(documented).sorted() == [], "missing from docs/metrics.md")
        #expect(documented.subtracting(inCode).sorted() == [], "documented but not in the code")
    }

    @Test func serveAllRegistersEveryRoleAndEveryFamilyIsDocumented() throws {
        var configuration = ServeConfiguration()
        let local = SocketAddress(host: "127.0.0.1", port: 0)
        configuration.tcpAddress = local
        configuration.webSocketAddress = local
        configuration.httpAddress = local
        configuration.loopCount = 1
        let server = try EmbeddedServer(configuration)
        defer { server.stop() }

        let families = Set(server.registry.familyNames)

        for expected in [
            "imctl_comet_connections", "imctl_logic_pushes_total", "imctl_job_consumed_total",
            "imctl_queue_depth", "imctl_http_requests_total", "imctl_accept_errors_total",
        ] {
            #expect(families.contains(expected), "\(expected)")
        }
        #expect(families.subtracting(try Self.documentedNames()).sorted() == [])
        #expect(server.registry.all.allSatisfy { MetricNaming.isValidMetricName($0.name) })
    }
}
