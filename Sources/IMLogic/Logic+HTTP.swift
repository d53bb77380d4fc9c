import IMCore
import IMNet

/// goim v1.2's HTTP API paths and the one method each accepts.
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

extension Logic {
    /// Serves goim v1.2's HTTP API. Success bodies are goim's (`{"ret":1}`, count data);
    /// failures are `{"ret":65535,"msg":...}` with a real status: 400 bad input, 404 unknown
    /// path, 405 wrong method (with `Allow`), 413 too many users, 503 router or queue failure.
    ///
    /// Also `GET /metrics` (the registry, Prometheus text format) and `GET /healthz` (`ok`, or
    /// 503 with the reason from `healthProblem()`).
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let response: HTTPResponse
        do {
            response = try await route(request)
        } catch let error as LogicRequestError {
            if error.status < 500 { metrics.rejectedRequests.increment() }
            response = error.response
        } catch {
            response = LogicRequestError(status: 500, "internal error: \(error)").response
        }

        logger.debug(
            "http request",
            [
                "http.method": request.method, "http.path": request.path,
                "http.status": "\(response.status)",
            ])
        return response
    }

    private func route(_ request: HTTPRequest) async throws -> HTTPResponse {
        let received = ContinuousClock.now
        guard let endpoint = LogicEndpoint(rawValue: request.path) else {
            throw LogicRequestError.notFound(request.path)
        }
        guard request.method == endpoint.method else {
            throw LogicRequestError.methodNotAllowed(request.method, allowed: endpoint.method)
        }

        switch endpoint {
        case .metrics: return .metrics(registry)
        case .health: return .health(problem: await healthProblem())
        case .count: return .json(try await count(request))
        case .serverDelete: try await deleteServer(request)
        case .push: try await pushToUser(request)
        case .pushs: try await pushToUsers(request)
        case .pushAll: try await pushToAll(request)
        case .pushRoom: try await pushToRoom(request)
        }
        if let kind = endpoint.pushKind { metrics.pushLatency(kind).observe(since: received) }
        return .json(LogicJSON.success)
    }

    private func pushToUser(_ request: HTTPRequest) async throws {
        let user = try request.nonNegativeID("uid", as: UserID.self)
        metrics.pushes(.push).increment()

        try await push(request.body, to: [user])
    }

    private func pushToUsers(_ request: HTTPRequest) async throws {
        let pushs = try PushsBody.parse(request.body, configuration: configuration)
        metrics.pushes(.pushs).increment()

        try await push(pushs.message, to: pushs.users)
    }

    private func pushToAll(_ request: HTTPRequest) async throws {
        metrics.pushes(.all).increment()

        try await publish([.broadcast(body: request.body)])
    }

    private func pushToRoom(_ request: HTTPRequest) async throws {
        let room = try request.nonNegativeID("rid", as: RoomID.self)
        let ensure = try request.flag("ensure")
        metrics.pushes(.room).increment()

        try await publish([.broadcastRoom(room, body: request.body, ensure: ensure)])
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
