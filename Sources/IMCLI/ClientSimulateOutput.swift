import Foundation

/// What a finished simulation reports.
struct SimulationResult {
    var clients: Int
    var workers: Int
    var counters: SimulationCounters
    var latency: LatencyHistogram
    /// Messages received between the moment every client had settled and the end.
    var receivedInWindow: Int
    /// Bytes received in the same window.
    var bytesInWindow: Int
    /// From the moment every client had settled (or the start, if they never did) to the end.
    var durationSeconds: Double
    var pushes: RoomPusher.Counts?
    var firstError: String?

    var receivedPerSecond: Double {
        durationSeconds > 0 ? Double(receivedInWindow) / durationSeconds : 0
    }

    var bytesPerSecond: Double {
        durationSeconds > 0 ? Double(bytesInWindow) / durationSeconds : 0
    }
}

/// The progress line, the final table and the final JSON object.
enum SimulateOutput {
    /// `[ 12s] connected 3000/3000 failed 0 | 60000 msg/s 3.1 MB/s | p50 1.20 ms p99 4.51 ms`
    static func progressLine(
        elapsedSeconds: Int, clients: Int, current: SimulationSnapshot,
        previous: SimulationSnapshot, intervalSeconds: Double
    ) -> String {
        let counters = current.counters
        let interval = max(intervalSeconds, 0.001)
        let messages = Double(counters.messages - previous.counters.messages) / interval
        let bytes = Double(counters.bytes - previous.counters.bytes) / interval
        let recent = current.latency.subtracting(previous.latency)
        var line = "[\(pad(String(elapsedSeconds), 4))s] connected \(counters.connected)/\(clients)"
            + " failed \(counters.failed)"
        if counters.disconnected > 0 { line += " disconnected \(counters.disconnected)" }
        line += " | \(Int(messages.rounded())) msg/s \(byteRate(bytes))"
        if let p50 = recent.percentile(0.5), let p99 = recent.percentile(0.99) {
            line += " | p50 \(milliseconds(p50)) ms p99 \(milliseconds(p99)) ms"
        }
        return line
    }

    /// The summary as aligned `name  value` lines.
    static func table(_ result: SimulationResult) -> String {
        var rows: [(String, String)] = [
            ("clients", "\(result.clients)"),
            ("connected", "\(result.counters.connected)"),
            ("failed", "\(result.counters.failed)"),
            ("disconnected", "\(result.counters.disconnected)"),
            ("duration", String(format: "%.1f s", result.durationSeconds)),
            ("received", "\(result.counters.messages)"),
            ("received/s", String(format: "%.0f", result.receivedPerSecond)),
            ("bytes", "\(result.counters.bytes)"),
            ("bytes/s", byteRate(result.bytesPerSecond)),
        ]
        if let pushes = result.pushes {
            rows.append(("pushes sent", "\(pushes.sent)"))
            rows.append(("push errors", "\(pushes.errors)"))
            if pushes.skipped > 0 { rows.append(("pushes skipped", "\(pushes.skipped)")) }
        }
        if result.latency.total == 0 {
            rows.append(("latency", "no timed messages"))
        } else {
            for (name, fraction) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
                let value = result.latency.percentile(fraction) ?? 0
                rows.append(("latency \(name)", "\(milliseconds(value)) ms"))
            }
            rows.append(("latency max", "\(milliseconds(result.latency.maxMicros)) ms"))
        }
        if result.workers > 0 { rows.append(("workers", "\(result.workers)")) }
        if let error = result.firstError { rows.append(("first error", error)) }

        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { "\(pad($0.0, width, left: true))  \($0.1)\n" }.joined()
    }

    /// The summary as one JSON object (one line).
    static func json(_ result: SimulationResult) -> String {
        var fields: [(String, String)] = [
            ("clients", "\(result.clients)"),
            ("connected", "\(result.counters.connected)"),
            ("failed", "\(result.counters.failed)"),
            ("disconnected", "\(result.counters.disconnected)"),
            ("received", "\(result.counters.messages)"),
            ("received_per_sec", String(format: "%.1f", result.receivedPerSecond)),
            ("bytes", "\(result.counters.bytes)"),
            ("bytes_per_sec", String(format: "%.1f", result.bytesPerSecond)),
            ("duration_s", String(format: "%.3f", result.durationSeconds)),
            ("pushes_sent", "\(result.pushes?.sent ?? 0)"),
            ("push_errors", "\(result.pushes?.errors ?? 0)"),
            ("pushes_skipped", "\(result.pushes?.skipped ?? 0)"),
            ("heartbeats", "\(result.counters.heartbeats)"),
            ("protocol_errors", "\(result.counters.protocolErrors)"),
            ("workers", "\(result.workers)"),
            ("latency_ms", latencyJSON(result.latency)),
        ]
        let error = result.firstError ?? result.pushes?.firstError
        fields.append(("first_error", error.map(PushLine.jsonString) ?? "null"))
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}\n"
    }

    private static func latencyJSON(_ latency: LatencyHistogram) -> String {
        guard latency.total > 0 else { return "null" }
        let values = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)].map { name, fraction in
            "\"\(name)\":\(milliseconds(latency.percentile(fraction) ?? 0))"
        }
        return "{" + values.joined(separator: ",")
            + ",\"max\":\(milliseconds(latency.maxMicros)),\"samples\":\(latency.total)}"
    }

    /// Microseconds as milliseconds with three decimals.
    static func milliseconds(_ micros: UInt64) -> String {
        String(format: "%.3f", Double(micros) / 1000)
    }

    static func byteRate(_ bytesPerSecond: Double) -> String {
        switch bytesPerSecond {
        case ..<1000: return String(format: "%.0f B/s", bytesPerSecond)
        case ..<1_000_000: return String(format: "%.1f kB/s", bytesPerSecond / 1000)
        default: return String(format: "%.1f MB/s", bytesPerSecond / 1_000_000)
        }
    }

    private static func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return left ? text + padding : padding + text
    }
}
