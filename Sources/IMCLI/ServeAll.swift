import Foundation
import IMComet
import IMCore
import IMJob
import IMLogic
import IMNet
import IMQueue
import IMRouter

/// `imctl serve all`: comet, logic, router and job in one process, joined by in-process calls
/// and the memory queue — no internal sockets. Runs in the foreground until SIGINT or SIGTERM,
/// then stops accepting, closes the clients and exits 0.
enum ServeAll {
    static let logger = Logger(label: "imctl")

    static func run(_ configuration: ServeConfiguration) -> Int32 {
        Logger.configure(level: configuration.logLevel)
        signal(SIGPIPE, SIG_IGN)
        unblockStopSignals()
        let stop = StopSignal.processSignals()

        let server: EmbeddedServer
        do {
            server = try EmbeddedServer(configuration)
        } catch {
            logger.error("cannot start: \(error)")
            return 1
        }
        logger.info("serving", ["pid": "\(getpid())", "server-id": "\(configuration.serverID)"])

        waitUntilTriggered(stop)
        logger.info("stopping")
        server.stop()
        logger.info("stopped")
        return 0
    }

    /// A parent may start us with SIGINT and SIGTERM blocked (threads of libdispatch block
    /// signals, and a child inherits the mask of the thread that spawned it); unblock them so
    /// the handler runs. Threads started later inherit this mask.
    private static func unblockStopSignals() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
    }

    private static func waitUntilTriggered(_ stop: StopSignal) {
        var descriptor = pollfd(fd: stop.fd, events: Int16(POLLIN), revents: 0)
        while poll(&descriptor, 1, -1) <= 0 {}
    }
}

/// The four roles and their listeners, wired in-process.
final class EmbeddedServer: Sendable {
    private let group: EventLoopGroup
    private let queue: MemoryQueue
    private let comet: Comet
    private let http: HTTPServer
    private let jobTask: Task<Void, Never>
    /// Every role's metrics, served as one `/metrics` on the logic HTTP port.
    let registry = MetricsRegistry()

    init(_ configuration: ServeConfiguration) throws {
        let loopCount = configuration.loopCount == 0 ? System.coreCount : configuration.loopCount
        group = try EventLoopGroup(loopCount: loopCount)
        group.start()

        queue = MemoryQueue(capacity: configuration.queueCapacity)
        let logic = Logic(
            routers: try RouterSet([(name: "1", client: Router())]), publisher: queue,
            registry: registry)
        comet = Comet(group: group, logic: logic, configuration: configuration.comet)
        http = HTTPServer(group: group, configuration: configuration.http, handler: logic)

        let job = Job(
            consumer: queue, comets: SingleCometDirectory(comet: comet),
            configuration: configuration.job)
        registry.register(comet.metrics.all + job.metrics.all + queue.metrics)
        registry.register(http.metrics.all + IMNetMetrics.all)
        jobTask = Task { await Self.runJob(job) }

        do {
            try listen(configuration)
        } catch {
            stop()
            throw error
        }
    }

    private func listen(_ configuration: ServeConfiguration) throws {
        let tcp = configuration.tcpAddress
        try comet.listenTCP(host: tcp.host, port: tcp.port)

        let webSocket = configuration.webSocketAddress
        try comet.listenWebSocket(host: webSocket.host, port: webSocket.port)

        try listenTLS(configuration)

        let httpAddress = configuration.httpAddress
        try http.start(host: httpAddress.host, port: httpAddress.port)
    }

    /// The optional TLS listeners share one context, built from the files now: a missing file
    /// or bad PEM fails the start with `TLSError`, whose message names the file.
    private func listenTLS(_ configuration: ServeConfiguration) throws {
        guard configuration.servesTLS,
            let certificate = configuration.tlsCertificateFile,
            let key = configuration.tlsKeyFile
        else { return }

        let context = try TLSContext(certificateChainFile: certificate, privateKeyFile: key)
        if let address = configuration.tcpTLSAddress {
            try comet.listenTCP(host: address.host, port: address.port, tls: context)
        }
        if let address = configuration.webSocketTLSAddress {
            try comet.listenWebSocket(host: address.host, port: address.port, tls: context)
        }
    }

    private static func runJob(_ job: Job) async {
        do {
            try await job.run()
        } catch is CancellationError {
        } catch {
            ServeAll.logger.error("job stopped: \(error)")
        }
    }

    /// Stops accepting, closes every client (telling logic), drains the queue into job, then
    /// stops the loops. Each wait inside is bounded.
    func stop() {
        http.stop()
        let done = DispatchSemaphore(value: 0)
        let comet = self.comet
        let queue = self.queue
        let jobTask = self.jobTask
        Task {
            await comet.shutdown()
            queue.close()
            jobTask.cancel()
            _ = await jobTask.value
            done.signal()
        }
        _ = done.wait(timeout: .now() + 10)
        group.shutdown()
    }
}

/// The one comet of `serve all`.
struct SingleCometDirectory: CometDirectory {
    let comet: Comet

    func comet(_ server: ServerID) -> (any CometClient)? {
        server == comet.serverID ? comet : nil
    }

    func allComets() -> [any CometClient] { [comet] }
}

extension ServeConfiguration {
    var comet: CometConfiguration {
        CometConfiguration().with {
            $0.serverID = serverID
            $0.handshakeTimeout = handshakeTimeout
            $0.heartbeatTimeout = heartbeatTimeout
            $0.maxBodySize = maxFrameBody
            $0.outboundLimit = outboundLimit
            $0.writeTimeout = writeTimeout
        }
    }

    var http: HTTPServer.Configuration {
        HTTPServer.Configuration().with { $0.maxBodySize = httpMaxBody }
    }

    var job: JobConfiguration {
        JobConfiguration(
            roomBatchSize: roomBatch, roomBatchWindow: roomWindow, roomQueueLimit: max(80, 2 * roomBatch))
    }
}
