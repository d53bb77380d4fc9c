import Foundation
import IMComet
import IMCore
import IMJob
import IMLogic
import IMNet
import IMQueue
import IMRouter

/// `imctl serve all`: comet, logic, router and job in one process, joined by in-process calls
/// and the memory queue — no internal sockets (with `--queue kafka://...`, logic and job go
/// through Kafka instead). Runs in the foreground until SIGINT or SIGTERM, then stops
/// accepting, closes the clients and exits 0.
enum ServeAll {
    static func run(_ configuration: ServeConfiguration) -> Int32 {
        ServeLifecycle.run(
            role: "all", logLevel: configuration.logLevel,
            fields: ["server-id": "\(configuration.serverID)"]
        ) {
            try EmbeddedServer(configuration)
        }
    }
}

/// The four roles and their listeners, wired in-process.
///
/// logic's HTTP API (with `/metrics` and `/healthz`) runs on loops of its own (as many as the
/// client loops), apart from the client loops: a pass over thousands of clients takes long
/// under load, and pushes and health checks must not wait for it.
final class EmbeddedServer: ServingProcess {
    private let group: EventLoopGroup
    private let httpGroup: EventLoopGroup
    private let queue: DispatchQueueEnds
    private let comet: Comet
    private let http: HTTPServer
    private let jobTask: Task<Void, Never>
    /// Every role's metrics, served as one `/metrics` on the logic HTTP port.
    let registry = MetricsRegistry()

    init(_ configuration: ServeConfiguration) throws {
        group = try EventLoopGroup(loopCount: configuration.effectiveLoopCount)
        group.start()
        do {
            httpGroup = try EventLoopGroup(loopCount: configuration.effectiveLoopCount)
        } catch {
            group.shutdown()
            throw error
        }
        httpGroup.start()

        do {
            queue = try DispatchQueueEnds(configuration.queue.url, configuration: configuration)
        } catch {
            httpGroup.shutdown()
            group.shutdown()
            throw error
        }
        let logic = Logic(
            routers: try RouterSet([(name: "1", client: Router())]), publisher: queue.publisher,
            registry: registry)
        comet = Comet(group: group, logic: logic, configuration: configuration.comet)
        http = HTTPServer(group: httpGroup, configuration: configuration.http, handler: logic)

        let job = Job(
            consumer: queue.consumer, comets: SingleCometDirectory(comet: comet),
            configuration: configuration.job)
        registry.register(comet.metrics.all + job.metrics.all + queue.metrics)
        registry.register(http.metrics.all + IMNetMetrics.all)
        jobTask = Task { await runJob(job) }

        do {
            try configuration.listenForClients(on: comet)
            let httpAddress = configuration.httpAddress
            try http.start(host: httpAddress.host, port: httpAddress.port)
        } catch {
            stop()
            throw error
        }
    }

    /// Stops accepting, closes every client (telling logic), drains the queue into job, then
    /// stops the loops. Each wait inside is bounded.
    func stop() {
        http.stop()
        let comet = self.comet
        let queue = self.queue
        let jobTask = self.jobTask
        ServeLifecycle.blockingStop {
            await comet.shutdown()
            queue.closeBeforeJobStops()
            jobTask.cancel()
            _ = await jobTask.value
        }
        queue.closeAfterJobStopped()
        httpGroup.shutdown()
        group.shutdown()
    }
}

/// Runs a job until it is cancelled or its queue ends; other failures are logged.
func runJob(_ job: Job) async {
    do {
        try await job.run()
    } catch is CancellationError {
    } catch {
        ServeLifecycle.logger.error("job stopped: \(error)")
    }
}

/// Both ends of `serve all`'s dispatch queue: one memory queue, or a Kafka publisher and
/// consumer on the same URL.
struct DispatchQueueEnds: Sendable {
    let publisher: any DispatchPublisher
    let consumer: any DispatchConsumer
    private let memory: MemoryQueue?
    private let kafka: (publisher: KafkaPublisher, consumer: KafkaConsumer)?

    init(_ url: QueueURL, configuration: ServeConfiguration) throws {
        switch url {
        case .memory:
            let queue = MemoryQueue(capacity: configuration.queueCapacity)
            (publisher, consumer, memory, kafka) = (queue, queue, queue, nil)
        case .kafka(let url):
            let ends = (
                publisher: try KafkaPublisher(url: url), consumer: try KafkaConsumer(url: url)
            )
            (publisher, consumer, memory, kafka) = (ends.publisher, ends.consumer, nil, ends)
        }
    }

    /// The counters of whichever queue this is.
    var metrics: [any Metric] {
        memory?.metrics ?? ((kafka?.publisher.metrics ?? []) + (kafka?.consumer.metrics ?? []))
    }

    /// The memory queue ends: job hands on what it holds and returns.
    func closeBeforeJobStops() {
        memory?.close()
    }

    /// Kafka's clients close once job is done with them (the consumer commits what job handled).
    func closeAfterJobStopped() {
        kafka?.consumer.close(leaveTimeout: .seconds(5))
        kafka?.publisher.close(flushTimeout: .seconds(5))
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
    var http: HTTPServer.Configuration {
        HTTPServer.Configuration().with { $0.maxBodySize = httpMaxBody }
    }

    var job: JobConfiguration {
        JobConfiguration(roomBatch: roomBatch, roomWindow: roomWindow, roomQueue: roomQueue)
    }
}

extension JobConfiguration {
    /// Job's settings from the CLI; the room queue holds at least two batches.
    init(roomBatch: Int, roomWindow: Duration, roomQueue: Int) {
        self.init(
            roomBatchSize: roomBatch, roomBatchWindow: roomWindow,
            roomQueueLimit: max(roomQueue, 2 * roomBatch))
    }
}
