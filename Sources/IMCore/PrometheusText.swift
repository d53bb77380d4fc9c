/// The Prometheus text exposition format, version 0.0.4: per family a `# HELP` and a
/// `# TYPE` line, then its samples, one per line, each line ending in `\n`.
public enum PrometheusText {
    /// The `Content-Type` of a scrape answer.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Writes `metrics` grouped by name, families in the order their first metric appears.
    /// Help and type come from a family's first metric.
    public static func render(_ metrics: [any Metric]) -> String {
        var order: [String] = []
        var families: [String: [any Metric]] = [:]
        for metric in metrics {
            if families[metric.name] == nil { order.append(metric.name) }
            families[metric.name, default: []].append(metric)
        }

        var text = ""
        for name in order {
            guard let members = families[name], let first = members.first else { continue }
            text += "# HELP \(name) \(escapeHelp(first.help))\n"
            text += "# TYPE \(name) \(first.type.rawValue)\n"
            for metric in members {
                for sample in metric.samples() {
                    text += line(name, sample)
                }
            }
        }
        return text
    }

    static func line(_ name: String, _ sample: MetricSample) -> String {
        var line = name + sample.suffix
        if !sample.labels.isEmpty {
            let pairs = sample.labels.map { "\($0.name)=\"\(escapeLabelValue($0.value))\"" }
            line += "{" + pairs.joined(separator: ",") + "}"
        }
        switch sample.value {
        case .integer(let value): line += " \(value)\n"
        case .double(let value): line += " \(format(value))\n"
        }
        return line
    }

    /// Help text: backslash and line feed escaped (`\\`, `\n`).
    public static func escapeHelp(_ text: String) -> String {
        escape(text, quotes: false)
    }

    /// Label values: backslash, double quote and line feed escaped (`\\`, `\"`, `\n`).
    public static func escapeLabelValue(_ text: String) -> String {
        escape(text, quotes: true)
    }

    /// A float as Prometheus reads it: `+Inf`, `-Inf`, `NaN`, else Swift's shortest form.
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        return value.description
    }

    private static func escape(_ text: String, quotes: Bool) -> String {
        guard text.contains(where: { $0 == "\\" || $0 == "\n" || (quotes && $0 == "\"") }) else {
            return text
        }
        var escaped = ""
        for character in text {
            switch character {
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\"" where quotes: escaped += "\\\""
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
