/// Maps (method, exact path) to a handler. Unknown paths get 404; a known path with another
/// method gets 405 with an `Allow` header. Both bodies are `{"ret":65535,"msg":"..."}`.
///
/// `HEAD` is served by the `GET` route when there is no `HEAD` route (the server sends the
/// headers only). Build it before handing it to the server; it is immutable afterwards.
public struct HTTPRouter: HTTPHandler {
    public typealias Route = @Sendable (HTTPRequest) async -> HTTPResponse

    /// path → method → route
    private var routes: [String: [String: Route]] = [:]

    public init() {}

    /// Adds (or replaces) the route for `method` (case-insensitive) on the exact `path`.
    public mutating func add(_ method: String, _ path: String, _ route: @escaping Route) {
        routes[path, default: [:]][method.uppercased()] = route
    }

    public mutating func get(_ path: String, _ route: @escaping Route) {
        add("GET", path, route)
    }

    public mutating func post(_ path: String, _ route: @escaping Route) {
        add("POST", path, route)
    }

    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        guard let methods = routes[request.path] else {
            return .failure(status: 404, "no such path: \(request.path)")
        }
        if let route = methods[request.method] ?? headFallback(request, methods) {
            return await route(request)
        }

        var refusal = HTTPResponse.failure(
            status: 405, "method \(request.method) not allowed on \(request.path)")
        refusal.headers.append(("Allow", allowedMethods(methods)))
        return refusal
    }

    private func headFallback(_ request: HTTPRequest, _ methods: [String: Route]) -> Route? {
        request.method == "HEAD" ? methods["GET"] : nil
    }

    private func allowedMethods(_ methods: [String: Route]) -> String {
        var names = Set(methods.keys)
        if names.contains("GET") { names.insert("HEAD") }
        return names.sorted().joined(separator: ", ")
    }
}
