/// The CLI's `--queue URL`: `memory` (or `memory://`) for the in-process queue, or a
/// `kafka://` URL (see `KafkaURL`).
public enum QueueURL: Sendable, Equatable, CustomStringConvertible {
    case memory
    case kafka(KafkaURL)

    public static let usage = "memory | \(KafkaURLError.usage)"

    /// Parses `text`; the scheme is case-insensitive.
    ///
    /// - Throws: `QueueURLError`.
    public init(parsing text: String) throws(QueueURLError) {
        let lowered = text.lowercased()
        if lowered == "memory" || lowered == "memory://" {
            self = .memory
        } else if lowered.hasPrefix("kafka://") {
            do {
                self = .kafka(try KafkaURL(parsing: text))
            } catch {
                throw .invalidKafkaURL(error)
            }
        } else {
            throw .unsupported(text)
        }
    }

    public var description: String {
        switch self {
        case .memory: return "memory"
        case .kafka(let url): return url.description
        }
    }
}

/// Why a `--queue` value was refused; the description is one line for a usage error.
public enum QueueURLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Neither `memory` nor a `kafka://` URL.
    case unsupported(String)
    case invalidKafkaURL(KafkaURLError)

    public var description: String {
        switch self {
        case .unsupported(let text):
            return "unsupported queue \"\(text.prefix(100))\"; expected \(QueueURL.usage)"
        case .invalidKafkaURL(let error):
            return error.description
        }
    }
}
