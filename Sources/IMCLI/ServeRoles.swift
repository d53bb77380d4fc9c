import Foundation
import IMComet
import IMCore
import IMJob
import IMLogic
import IMNet
import IMQueue
import IMRouter
import Synchronization

/// `imctl serve comet|logic|router|job`: one role per process, joined by the internal RPC
/// (docs/rpc.md) and Kafka (docs/kafka.md) — the distributed mode of design.md §2. Each runs
/// in the foreground like `serve all` and logs a "listening" line per listener.
enum ServeRoles {
    static func router(_ configuration: RouterServeConfiguration) -> Int32 {
        ServeLifecycle.run(role: "router", logLevel: configuration.logLevel) {
            try RouterProcess(configuration)
        }
    }

    static func logic(_ configuration: LogicServeConfiguration) -> Int32 {
        ServeLifecycle.run(role: "logic", logLevel: configuration.logLevel) {
            try LogicProcess(configuration)
        }
    }

    static func job(_ configuration: JobServeConfiguration) -> Int32 {
        ServeLifecycle.run(role: "job", logLevel: configuration.logLevel) {
            try JobProcess(configuration)
        }
    }

    static func comet(_ configuration: CometServeConfiguration) -> Int32 {
        ServeLifecycle.run(
            role: "comet", logLevel: configuration.logLevel,
            fields: ["server-id": "\(configuration.serverID)"]
        ) {
            try CometProcess(configuration)
        }
    }

    /// The line test harnesses and `scripts/cluster` read the bound address from.
    static func logListening(_ role: String, proto: String, _ address: SocketAddress) {
        ServeLifecycle.logger.info(
            "\(role) listening", ["address": "\(address)", "proto": proto])
    }

    /// Serves `registry` and `health` on `address` (`--metrics`), when one was given.
    static func startMetrics(
        _ role: String, on address: SocketAddress?, group: EventLoopGroup,
        registry: MetricsRegistry, health: @escaping MetricsServer.HealthCheck = { nil }
    ) throws -> MetricsServer? {
        guard let address else { return nil }
        let server = MetricsServer(group: group, registry: registry, health: health)
        registry.register(server.metrics.all + IMNetMetrics.all)
        try server.start(host: address.host, port: address.port)
        return server
    }

    /// Starts `group` with the configured loop count.
    static func startedGroup(_ configuration: some ProcessSettings) throws -> EventLoopGroup {
        let group = try EventLoopGroup(loopCount: configuration.effectiveLoopCount)
        group.start()
        return group
    }

    /// The Kafka URL of a role's `--queue` (the memory queue was refused while parsing).
    static func kafkaURL(_ queue: QueueSetting) throws -> KafkaURL {
        guard case .kafka(let url) = queue.url else {
            throw ServeStartError("the memory queue works only inside 'imctl serve all'")
        }
        return url
    }
}

/// A start failure worth one plain line (`cannot start: ...`).
struct ServeStartError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}

// MARK: - Router

/// `serve router`: the session table behind an RPC server.
final class RouterProcess: ServingProcess {
    private let group: EventLoopGroup
    private let server: RPCServer
    private let metricsServer = Mutex<MetricsServer?>(nil)

    init(_ configuration: RouterServeConfiguration) throws {
        group = try ServeRoles.startedGroup(configuration)
        server = RPCServer(group: group, handler: RouterRPC.methods(serving: Router()))
        do {
            let address = configuration.rpcAddress
            let bound = try server.start(host: address.host, port: address.port)
            ServeRoles.logListening("router", proto: "rpc", bound)

            let registry = MetricsRegistry()
            registry.register(server.metrics.all)
            let metrics = try ServeRoles.startMetrics(
                "router", on: configuration.metricsAddress, group: group, registry: registry)
            metricsServer.withLock { $0 = metrics }
        } catch {
            stop()
            throw error
        }
    }

    func stop() {
        metricsServer.withLock { $0?.stop() }
        let server = self.server
        ServeLifecycle.blockingStop { await server.stop() }
        group.shutdown()
    }
}

// MARK: - Logic

/// `serve logic`: the HTTP push API and the RPC server for comets and job, with remote
/// routers and a Kafka publisher.
final class LogicProcess: ServingProcess {
    private let group: EventLoopGroup
    private let routerClients: [RPCClient]
    private let publisher: KafkaPublisher
    private let rpc: RPCServer
    private let http: HTTPServer
    private let expiryTask: Task<Void, Never>

    init(_ configuration: LogicServeConfiguration) throws {
        let url = try ServeRoles.kafkaURL(configuration.queue)
        let group = try ServeRoles.startedGroup(configuration)
        self.group = group
        let routerClients = configuration.routers.map {
            RPCClient(address: $0.address, group: group)
        }
        self.routerClients = routerClients
        // Names keep goim's ketama placement: every logic must list the same names.
        let members = zip(configuration.routers, routerClients).map { endpoint, client in
            (name: endpoint.name, client: RemoteRouter(client: client) as any RouterClient)
        }
        let routers: RouterSet
        do {
            routers = try RouterSet(members)
            publisher = try KafkaPublisher(url: url, deliveryTimeout: configuration.publishTimeout)
        } catch {
            routerClients.forEach { $0.close() }
            group.shutdown()
            throw error
        }

        let logic = Logic(
            routers: routers, publisher: publisher,
            configuration: LogicConfiguration(cometExpiry: configuration.cometExpiry))
        rpc = RPCServer(group: group, handler: LogicRPC.methods(serving: logic))
        http = HTTPServer(
            group: group,
            configuration: HTTPServer.Configuration().with {
                $0.maxBodySize = configuration.httpMaxBody
            },
            handler: logic)
        logic.registry.register(
            publisher.metrics + rpc.metrics.all + http.metrics.all + IMNetMetrics.all
                + routerClients.flatMap(\.metrics.all))
        expiryTask = Task { await logic.runCometExpiry() }

        do {
            try listen(configuration)
        } catch {
            stop()
            throw error
        }
    }

    /// RPC first, so comets started together with logic can register as soon as possible.
    private func listen(_ configuration: LogicServeConfiguration) throws {
        let rpcAddress = configuration.rpcAddress
        let bound = try rpc.start(host: rpcAddress.host, port: rpcAddress.port)
        ServeRoles.logListening("logic", proto: "rpc", bound)
        for router in configuration.routers {
            ServeLifecycle.logger.info(
                "router", ["name": router.name, "rpc": "\(router.address)"])
        }

        let httpAddress = configuration.httpAddress
        try http.start(host: httpAddress.host, port: httpAddress.port)
    }

    func stop() {
        http.stop()
        let rpc = self.rpc
        ServeLifecycle.blockingStop { await rpc.stop() }
        expiryTask.cancel()
        publisher.close(flushTimeout: .seconds(5))
        routerClients.forEach { $0.close() }
        group.shutdown()
    }
}

// MARK: - Job

/// `serve job`: consumes Kafka and pushes to the comets logic lists, each over its own RPC
/// client.
final class JobProcess: ServingProcess {
    private let group: EventLoopGroup
    private let consumer: KafkaConsumer
    private let logicClient: RPCClient
    private let directory: FollowingCometDirectory
    private let directoryTask: Task<Void, Never>
    private let jobTask: Task<Void, Never>
    private let metricsServer: MetricsServer?

    /// How long job waits for logic's comet list before saying so (it keeps waiting).
    static let loadWarningInterval: Duration = .seconds(5)

    init(_ configuration: JobServeConfiguration) throws {
        let url = try ServeRoles.kafkaURL(configuration.queue)
        let group = try ServeRoles.startedGroup(configuration)
        self.group = group
        do {
            consumer = try KafkaConsumer(url: url)
        } catch {
            group.shutdown()
            throw error
        }

        logicClient = RPCClient(address: configuration.logicRPCAddress, group: group)
        let directory = FollowingCometDirectory(registry: RemoteLogic(client: logicClient)) {
            member in
            JobProcess.connect(to: member, group: group)
        }
        self.directory = directory
        directoryTask = Task { await directory.run() }

        let job = Job(
            consumer: consumer, comets: directory,
            configuration: JobConfiguration(
                roomBatch: configuration.roomBatch, roomWindow: configuration.roomWindow,
                roomQueue: configuration.roomQueue))
        let logic = configuration.logicRPCAddress
        jobTask = Task {
            guard await Self.waitForComets(directory, logic: logic) else { return }
            await runJob(job)
        }

        let registry = MetricsRegistry()
        registry.register(job.metrics.all + consumer.metrics + logicClient.metrics.all)
        do {
            metricsServer = try ServeRoles.startMetrics(
                "job", on: configuration.metricsAddress, group: group, registry: registry
            ) {
                await directory.waitUntilLoaded(timeout: .zero)
                    ? nil : "no comet list from logic yet (not consuming)"
            }
        } catch {
            metricsServer = nil
            stop()
            throw error
        }
    }

    /// Consuming before the comets are known would drop (and commit) every message, so job
    /// starts once logic answered with its list, however long that takes.
    private static func waitForComets(_ directory: FollowingCometDirectory, logic: SocketAddress)
        async -> Bool
    {
        while !Task.isCancelled {
            if await directory.waitUntilLoaded(timeout: loadWarningInterval) {
                ServeLifecycle.logger.info(
                    "comets loaded", ["count": "\(directory.members.count)", "logic": "\(logic)"])
                return true
            }
            guard !Task.isCancelled else { break }
            ServeLifecycle.logger.warning(
                "no comet list from logic yet; not consuming until it answers",
                ["logic": "\(logic)"])
        }
        return false
    }

    /// A comet's RPC client: closed by the directory when the comet leaves or moves.
    private static func connect(to member: CometMember, group: EventLoopGroup) -> (
        client: any CometClient, close: @Sendable () -> Void
    ) {
        do {
            let address = try SocketAddress(parsing: member.rpcAddress)
            let client = RPCClient(address: address, group: group)
            return (RemoteComet(serverID: member.server, client: client), { client.close() })
        } catch {
            ServeLifecycle.logger.warning(
                "comet registered an address that cannot be dialed",
                ["comet.id": "\(member.server)", "rpc": member.rpcAddress])
            return (UnreachableComet(serverID: member.server, address: member.rpcAddress), {})
        }
    }

    func stop() {
        metricsServer?.stop()
        let jobTask = self.jobTask
        jobTask.cancel()
        ServeLifecycle.blockingStop { await jobTask.value }
        consumer.close(leaveTimeout: .seconds(5))
        directoryTask.cancel()
        let directoryTask = self.directoryTask
        ServeLifecycle.blockingStop(timeout: .seconds(3)) { await directoryTask.value }
        directory.close()
        logicClient.close()
        group.shutdown()
    }
}

/// A comet whose registered RPC address does not parse: every call fails (counted by job).
private struct UnreachableComet: CometClient {
    let serverID: ServerID
    let address: String

    private var error: ServeStartError {
        ServeStartError("comet RPC address '\(address)' cannot be dialed")
    }

    func push(keys: [SessionKey], bodies: [[UInt8]]) async throws { throw error }
    func broadcast(bodies: [[UInt8]]) async throws { throw error }
    func broadcastRoom(_ room: RoomID, bodies: [[UInt8]]) async throws { throw error }
}

// MARK: - Comet

/// `serve comet`: client listeners, an RPC server for job, and a registration with logic.
///
/// The RPC server and the metrics listener run on a loop of their own, apart from the client
/// loops: a pass over thousands of clients takes long under load, and job's calls are answered
/// once a push is posted to the client loops, not after such a pass. So job keeps sending while
/// the loops are busy and the pushes it sends meanwhile go out together (the comet's backlog
/// limit bounds them); `/healthz` answers during the pass too.
final class CometProcess: ServingProcess {
    private let group: EventLoopGroup
    private let controlGroup: EventLoopGroup
    private let logicClient: RPCClient
    private let comet: Comet
    private let rpc: RPCServer
    private let registrarTask = Mutex<Task<Void, Never>?>(nil)
    private let metricsServer = Mutex<MetricsServer?>(nil)

    /// How long the first registration may take before the start fails.
    static let registrationTimeout: Duration = .seconds(10)

    init(_ configuration: CometServeConfiguration) throws {
        group = try ServeRoles.startedGroup(configuration)
        do {
            controlGroup = try EventLoopGroup(loopCount: 1)
        } catch {
            group.shutdown()
            throw error
        }
        controlGroup.start()
        logicClient = RPCClient(address: configuration.logicRPCAddress, group: group)
        let logic = RemoteLogic(client: logicClient)
        comet = Comet(group: group, logic: logic, configuration: configuration.comet)
        rpc = RPCServer(group: controlGroup, handler: CometRPC.methods(serving: comet))

        do {
            let registrar = try register(configuration, logic: logic)
            try configuration.listenForClients(on: comet)
            registrarTask.withLock { $0 = Task { await registrar.run() } }
            try serveMetrics(configuration, registrar: registrar)
        } catch {
            stop()
            throw error
        }
    }

    /// Opens the RPC listener and registers its address with logic; fails the start when
    /// logic cannot be reached in time (a comet job cannot find is of no use).
    private func register(_ configuration: CometServeConfiguration, logic: RemoteLogic) throws
        -> CometRegistrar
    {
        let address = configuration.rpcAddress
        let bound = try rpc.start(host: address.host, port: address.port)
        ServeRoles.logListening("comet", proto: "rpc", bound)

        let advertised = configuration.advertisedRPCAddress(bound: bound)
        let registrar = CometRegistrar(
            comet: comet, registry: logic, rpcAddress: advertised.description,
            interval: configuration.registerInterval)
        let logicAddress = configuration.logicRPCAddress
        do {
            let registered = try ServeLifecycle.blocking(timeout: Self.registrationTimeout * 2) {
                try await registrar.registerFirst(timeout: Self.registrationTimeout)
                return true
            }
            guard registered == true else { throw RPCError.timeout }
        } catch {
            throw ServeStartError("cannot register with logic at \(logicAddress): \(error)")
        }
        return registrar
    }

    private func serveMetrics(
        _ configuration: CometServeConfiguration, registrar: CometRegistrar
    ) throws {
        let registry = MetricsRegistry()
        registry.register(comet.metrics.all + rpc.metrics.all + logicClient.metrics.all)
        let metrics = try ServeRoles.startMetrics(
            "comet", on: configuration.metricsAddress, group: controlGroup, registry: registry
        ) { registrar.healthProblem }
        metricsServer.withLock { $0 = metrics }
    }

    /// Stops refreshing, closes every client (telling logic), then the RPC server and loops.
    func stop() {
        metricsServer.withLock { $0?.stop() }
        registrarTask.withLock { $0?.cancel() }
        let comet = self.comet
        let rpc = self.rpc
        ServeLifecycle.blockingStop { await comet.shutdown() }
        ServeLifecycle.blockingStop { await rpc.stop() }
        logicClient.close()
        controlGroup.shutdown()
        group.shutdown()
    }
}
