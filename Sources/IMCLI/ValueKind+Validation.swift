import Foundation
import IMCore
import IMNet

extension ValueKind {
    /// Nil when `text` is a valid value of this kind, else what was expected, for an error
    /// line (`expected a duration such as 500ms, 5s or 1m30s`).
    ///
    /// Durations are `Duration(parsing:)`'s syntax, sizes `ByteSize.parse`'s, addresses
    /// `SocketAddress(parsing:)`'s (IPv4 or a host name).
    public func problem(with text: String) -> String? {
        switch self {
        case .string, .file, .commandPath:
            return nil
        case .integer:
            return Int64(text) == nil ? "expected an integer" : nil
        case .duration:
            return Duration(parsing: text) == nil
                ? "expected a duration such as 500ms, 5s or 1m30s" : nil
        case .size:
            return ByteSize.parse(text) == nil ? "expected a size such as 4096, 4KiB or 1MiB" : nil
        case .address:
            return Self.addressProblem(text)
        case .url:
            return Self.isAbsoluteURL(text) ? nil : "expected a URL such as http://host:port"
        case .choice(let words):
            return words.contains(text) ? nil : "expected one of \(words.joined(separator: ", "))"
        }
    }

    private static func addressProblem(_ text: String) -> String? {
        do {
            _ = try SocketAddress(parsing: text)
            return nil
        } catch {
            let expected = "expected HOST:PORT"
            return error.reason == expected ? expected : "\(expected) (\(error.reason))"
        }
    }

    private static func isAbsoluteURL(_ text: String) -> Bool {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            !scheme.isEmpty, let host = components.host
        else { return false }
        return !host.isEmpty
    }
}
