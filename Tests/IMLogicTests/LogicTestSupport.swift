import IMCore
import IMNet
import IMRouter
import Synchronization

@testable import IMLogic

/// Records every published message; can be told to refuse them.
final class RecordingPublisher: DispatchPublisher {
    private let state = Mutex<(messages: [DispatchMessage], failure: QueueError?)>(([], nil))

    var messages: [DispatchMessage] { state.withLock { $0.messages } }

    func fail(with error: QueueError?) {
        state.withLock { $0.failure = error }
    }

    func publish(_ message: DispatchMessage) async throws {
        try state.withLock { state in
            if let failure = state.failure { throw failure }
            state.messages.append(message)
        }
    }
}

struct RouterDown: Error, CustomStringConvertible {
    var description: String { "connection refused" }
}

/// A real `Router` that records lookups and can be switched off.
final class SwitchableRouter: RouterClient {
    let table = Router()
    private let state = Mutex<(isDown: Bool, lookups: [[UserID]])>((false, []))

    var lookups: [[UserID]] { state.withLock { $0.lookups } }

    func goDown() { state.withLock { $0.isDown = true } }

    func comeBack() { state.withLock { $0.isDown = false } }

    private func checkUp() throws {
        if state.withLock({ $0.isDown }) { throw RouterDown() }
    }

    func put(user: UserID, server: ServerID, room: RoomID?) async throws -> Int32 {
        try checkUp()
        return await table.put(user: user, server: server, room: room)
    }

    func delete(user: UserID, seq: Int32) async throws -> Bool {
        try checkUp()
        return await table.delete(user: user, seq: seq)
    }

    func sessions(of users: [UserID]) async throws -> [UserID: [SessionRecord]] {
        try checkUp()
        state.withLock { $0.lookups.append(users) }
        return await table.sessions(of: users)
    }

    func deleteServer(_ server: ServerID) async throws -> Int {
        try checkUp()
        return await table.deleteServer(server)
    }

    func roomCounts() async throws -> [RoomID: Int] {
        try checkUp()
        return await table.roomCounts()
    }

    func serverCounts() async throws -> [ServerID: Int] {
        try checkUp()
        return await table.serverCounts()
    }
}

/// A logic over named switchable routers and a recording publisher.
struct LogicFixture {
    let routers: [String: SwitchableRouter]
    let publisher = RecordingPublisher()
    let logic: Logic

    init(routerNames: [String] = ["1"], configuration: LogicConfiguration = .init()) throws {
        let routers = Dictionary(uniqueKeysWithValues: routerNames.map { ($0, SwitchableRouter()) })
        let set = try RouterSet(routerNames.map { (name: $0, client: routers[$0]!) })
        self.routers = routers
        self.logic = Logic(routers: set, publisher: publisher, configuration: configuration)
    }

    /// The only router (single-router fixtures).
    var router: SwitchableRouter { routers.values.first! }

    /// Records a session for `user` on comet `server` as a comet's connect would.
    @discardableResult
    func connect(_ user: UserID, server: ServerID, room: RoomID? = 1) async throws -> SessionKey {
        let token = room.map { #"{"mid":\#(user),"room":\#($0)}"# } ?? #"{"mid":\#(user)}"#
        return try await logic.connect(server: server, token: Array(token.utf8)).key
    }

    /// A user id that `RouterSet` places on router `name`, at or after `start`.
    func user(on name: String, from start: UserID = 1) -> UserID {
        (start...).first { logic.routers.router(for: $0).name == name }!
    }

    func post(
        _ path: String, _ query: [(String, String)] = [], body: [UInt8] = []
    ) async -> HTTPResponse {
        await logic.handle(request("POST", path, query, body: body))
    }

    func post(_ path: String, _ query: [(String, String)] = [], json: String) async -> HTTPResponse
    {
        await post(path, query, body: Array(json.utf8))
    }

    func get(_ path: String, _ query: [(String, String)] = []) async -> HTTPResponse {
        await logic.handle(request("GET", path, query))
    }

    private func request(
        _ method: String, _ path: String, _ query: [(String, String)], body: [UInt8] = []
    ) -> HTTPRequest {
        HTTPRequest(
            method: method, path: path, queryItems: query.map { (name: $0.0, value: $0.1) },
            body: body)
    }
}

extension HTTPResponse {
    var text: String { String(decoding: body, as: UTF8.self) }

    var contentType: String? {
        headers.first { $0.name.lowercased() == "content-type" }?.value
    }

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Whether the body is goim's failure shape with a message.
    var isGoimFailure: Bool { text.hasPrefix(#"{"ret":65535,"msg":""#) && text.hasSuffix("\"}") }
}
