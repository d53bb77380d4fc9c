import IMCore
import IMNet

/// goim v1.2's HTTP API paths and the method each accepts (a GET endpoint answers HEAD too).
enum LogicEndpoint: String, CaseIterable {
    case push = "/1/push"
    case pushs = "/1/pushs"
    case pushAll = "/1/push/all"
    case pushRoom = "/1/push/room"
    case serverDelete = "/1/server/del"
    case count = "/1/count"
    case metrics = "/metrics"
    case health = "/healthz"

    var method: String {
        switch self {
        case .count, .metrics, .health: "GET"
        default: "POST"
        }
    }

    /// Whether `method` is served here: the endpoint's method, or HEAD where it is GET.
    func accepts(_ method: String) -> Bool {
        method == self.method || (method == "HEAD" && self.method == "GET")
    }

    /// The `Allow` header of a 405.
    var allowedMethods: String {
        method == "GET" ? "GET, HEAD" : method
    }

    /// The push kind of a push endpoint, for the push metrics.
    var pushKind: PushKind? {
        switch self {
        case .push: .push
        case .pushs: .pushs
        case .pushRoom: .room
        case .pushAll: .all
        default: nil
        }
    }
}

/// What a push endpoint asks for, read from its request before any router or queue call.
enum PushOrder {
    /// A `multiple` message per comet holding sessions of these users.
    case users([UserID], body: [UInt8])
    /// These messages, as they are.
    case messages([DispatchMessage])
}

extension Logic {
    /// Serves goim v1.2's HTTP API. Success bodies are goim's (`{"ret":1}`, count data);
    /// failures are `{"ret":65535,"msg":...}` with a real status: 400 bad input, 404 unknown
    /// path, 405 wrong method (with `Allow`), 413 too many users, 503 router or queue failure.
    ///
    /// Also `GET /metrics` (the registry, Prometheus text format) and `GET /healthz` (`ok`, or
    /// 503 with the reason from `healthProblem()`).
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        do {
            return answer(request, try await route(request))
        } catch {
            return answer(request, failure: error)
        }
    }

    /// Logs the answer to `request`.
    func answer(_ request: HTTPRequest, _ response: HTTPResponse) -> HTTPResponse {
        logger.debug(
            "http request",
            [
                "http.method": request.method, "http.path": request.path,
                "http.status": "\(response.status)",
            ])
        return response
    }

    /// The error answer to `request` (counted when it is the caller's fault), logged.
    func answer(_ request: HTTPRequest, failure error: any Error) -> HTTPResponse {
        guard let error = error as? LogicRequestError else {
            let unexpected = LogicRequestError(status: 500, "internal error: \(error)")
            return answer(request, unexpected.response)
        }
        if error.status < 500 { metrics.rejectedRequests.increment() }
        return answer(request, error.response)
    }

    private func route(_ request: HTTPRequest) async throws -> HTTPResponse {
        let received = ContinuousClock.now
        let endpoint = try Self.endpoint(of: request)

        switch endpoint {
        case .metrics: return .metrics(registry)
        case .health: return .health(problem: await healthProblem())
        case .count: return .json(try await count(request))
        case .serverDelete:
            try await deleteServer(request)
            return .json(LogicJSON.success)
        case .push, .pushs, .pushAll, .pushRoom:
            try await carryOut(try pushOrder(endpoint, request))
            return pushed(endpoint, received: received)
        }
    }

    /// The endpoint `request` names, or a 404 or 405.
    static func endpoint(of request: HTTPRequest) throws(LogicRequestError) -> LogicEndpoint {
        guard let endpoint = LogicEndpoint(rawValue: request.path) else {
            throw LogicRequestError.notFound(request.path)
        }
        guard endpoint.accepts(request.method) else {
            throw LogicRequestError.methodNotAllowed(
                request.method, allowed: endpoint.allowedMethods)
        }
        return endpoint
    }

    /// The success answer of a push endpoint, its latency recorded.
    func pushed(_ endpoint: LogicEndpoint, received: ContinuousClock.Instant) -> HTTPResponse {
        if let kind = endpoint.pushKind { metrics.pushLatency(kind).observe(since: received) }
        return .json(LogicJSON.success)
    }

    /// What the push endpoint `endpoint` asks for, counted as a push of its kind; a 400 when
    /// the request is invalid. Empty for an endpoint that is not a push.
    func pushOrder(
        _ endpoint: LogicEndpoint, _ request: HTTPRequest
    ) throws(LogicRequestError) -> PushOrder {
        let order: PushOrder
        switch endpoint {
        case .push:
            let user = try request.nonNegativeID("uid", as: UserID.self)
            order = .users([user], body: request.body)
        case .pushs:
            let pushs = try PushsBody.parse(request.body, configuration: configuration)
            order = .users(pushs.users, body: pushs.message)
        case .pushAll:
            order = .messages([.broadcast(body: request.body)])
        case .pushRoom:
            let room = try request.nonNegativeID("rid", as: RoomID.self)
            let ensure = try request.flag("ensure")
            order = .messages([.broadcastRoom(room, body: request.body, ensure: ensure)])
        case .serverDelete, .count, .metrics, .health:
            return .messages([])
        }

        if let kind = endpoint.pushKind { metrics.pushes(kind).increment() }
        return order
    }

    private func carryOut(_ order: PushOrder) async throws {
        switch order {
        case .users(let users, let body): try await push(body, to: users)
        case .messages(let messages): try await publish(messages)
        }
    }

    private func deleteServer(_ request: HTTPRequest) async throws {
        let server = try request.nonNegativeID("server", as: ServerID.self)

        let removed = try await onEveryRouter("delete server \(server)") { router in
            try await router.deleteServer(server)
        }

        let total = removed.reduce(0, +)
        logger.info(
            "deleted a comet's sessions", ["comet.id": "\(server)", "sessions": "\(total)"])
    }

    private func count(_ request: HTTPRequest) async throws -> String {
        switch request.query("type") {
        case "room":
            let counts = try await onEveryRouter("count rooms") { try await $0.roomCounts() }
            return LogicJSON.roomCounts(Self.sum(counts))
        case "server":
            let counts = try await onEveryRouter("count servers") { try await $0.serverCounts() }
            return LogicJSON.serverCounts(Self.sum(counts))
        case nil:
            throw LogicRequestError.badRequest("missing query parameter type (room or server)")
        case let other?:
            throw LogicRequestError.badRequest(
                "type must be room or server, got \(LogicJSON.excerpt(other))")
        }
    }

    private static func sum<ID: Hashable>(_ maps: [[ID: Int]]) -> [ID: Int] {
        maps.reduce(into: [:]) { total, map in total.merge(map, uniquingKeysWith: +) }
    }
}
