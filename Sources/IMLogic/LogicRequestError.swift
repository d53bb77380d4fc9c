import IMNet

/// Why an HTTP API request was not carried out: an HTTP status plus a message for the caller.
/// The body keeps goim's `"ret":65535` so goim clients still see a failure.
struct LogicRequestError: Error, Equatable {
    var status: Int
    var message: String
    /// The allowed method, for 405 answers.
    var allowedMethod: String?

    init(status: Int, _ message: String, allowedMethod: String? = nil) {
        self.status = status
        self.message = message
        self.allowedMethod = allowedMethod
    }

    static func badRequest(_ message: String) -> Self { Self(status: 400, message) }

    static func unavailable(_ message: String) -> Self { Self(status: 503, message) }

    static func notFound(_ path: String) -> Self {
        Self(status: 404, "no such endpoint: \(LogicJSON.excerpt(path))")
    }

    static func methodNotAllowed(_ method: String, allowed: String) -> Self {
        let shown = LogicJSON.excerpt(method)
        return Self(
            status: 405, "method \(shown) not allowed, use \(allowed)", allowedMethod: allowed)
    }

    var response: HTTPResponse {
        var response = HTTPResponse.json(status: status, LogicJSON.failure(message))
        if let allowedMethod {
            response.headers.append(("Allow", allowedMethod))
        }
        return response
    }
}
