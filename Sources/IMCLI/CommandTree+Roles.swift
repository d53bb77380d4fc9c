/// `serve comet|logic|router|job`: one role per process, joined by the internal RPC and Kafka
/// (the distributed mode, design.md §2). Settings shared with `serve all` reuse its options, so
/// their names, defaults and wording cannot drift apart.
extension CommandTree {
    /// The Kafka topic goim's logic writes and job reads.
    static let defaultKafkaQueue = "kafka://127.0.0.1:9092/goim-push-topic"

    /// The `serve all` option named `long` (a programming error if it is missing: every test
    /// walks the tree).
    static func serveAllOption(_ long: String) -> OptionSpec {
        guard let option = serveAllOptions.first(where: { $0.long == long }) else {
            preconditionFailure("serve all has no option --\(long)")
        }
        return option
    }

    /// `--loops`, `--log-level`, `--config`, `--print-config`: every serve command ends so.
    static var processOptions: [OptionSpec] {
        ["loops", "log-level", "config", "print-config"].map(serveAllOption)
    }

    static func rpcOption(_ defaultValue: String, _ abstract: String) -> OptionSpec {
        serveOption("rpc", "host:port", .address, defaultValue, abstract)
    }

    /// `--metrics`: the roles without an HTTP API of their own serve /metrics and /healthz here.
    static let metricsOption = optionalServeOption(
        "metrics", "host:port", .address,
        "Address for GET /metrics (Prometheus) and /healthz; off unless given.")

    static let logicRPCOption = serveOption(
        "logic-rpc", "host:port", .address, "127.0.0.1:7170", "Logic's internal RPC address.")

    static let kafkaQueueOption = serveOption(
        "queue", "url", .string, defaultKafkaQueue,
        "The Kafka topic of dispatch messages: kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?...].")

    static let sharedSettingsNote = """
        Each setting comes from the flag, else its IMCTL_* environment variable, else the \
        --config file, else the default. --print-config shows the result in the config-file \
        syntax.
        """

    static let serveRouter = CommandSpec(
        name: "router",
        abstract: "Run the router role: the session table.",
        discussion: """
            Holds which comet and room each user's sessions are on, for the logic processes \
            that call its internal RPC. Several routers split the users: give each logic all \
            of them with --router, under the same names.

            \(sharedSettingsNote)
            """,
        options: [
            rpcOption("127.0.0.1:7270", "Address of the internal RPC for logic."), metricsOption,
        ] + processOptions)

    static let serveLogic = CommandSpec(
        name: "logic",
        abstract: "Run the logic role: the HTTP push API and authentication.",
        discussion: """
            Serves goim's HTTP push API and, on its internal RPC, the comets' connect, \
            disconnect and registration calls and job's list of comets. Publishes dispatch \
            messages to Kafka and answers ret 1 only once the broker acknowledged them \
            (503 after --publish-timeout). A comet that has not refreshed its registration \
            for --comet-expiry is dropped and its sessions removed from the routers.

            --router NAME=HOST:PORT may be repeated (or given as a comma-separated list, as \
            IMCTL_ROUTER and the config key take it); users are placed on the routers by \
            ketama over the names, so every logic must list the same names.

            \(sharedSettingsNote)
            """,
        options: [
            serveAllOption("http"),
            rpcOption("127.0.0.1:7170", "Address of the internal RPC for comets and job."),
            OptionSpec(
                long: "router", valueName: "name=host:port", kind: .value(.string),
                abstract: "A router's name and RPC address; repeat for several routers.",
                defaultValue: "1=127.0.0.1:7270",
                environment: OptionSpec.environmentName(for: "router"), isConfigKey: true,
                isRepeating: true),
            kafkaQueueOption,
            serveOption(
                "publish-timeout", "duration", .duration, "10s",
                "How long a push waits for the broker's acknowledgement before HTTP 503."),
            serveOption(
                "comet-expiry", "duration", .duration, "15s",
                "How long a comet may go without refreshing its registration."),
            serveAllOption("http-max-body"),
        ] + processOptions)

    static let serveJob = CommandSpec(
        name: "job",
        abstract: "Run the job role: hands queued pushes to the comets.",
        discussion: """
            Consumes dispatch messages from Kafka as a member of the consumer group \
            (group.id in the URL, default imctl-job; several jobs split the partitions), \
            learns the comets from logic and calls their push RPC. An offset is committed \
            only after its message was handed to the comets (at-least-once).

            \(sharedSettingsNote)
            """,
        options: [
            kafkaQueueOption, logicRPCOption, serveAllOption("room-batch"),
            serveAllOption("room-window"), serveAllOption("room-queue"), metricsOption,
        ] + processOptions)

    static let serveComet = CommandSpec(
        name: "comet",
        abstract: "Run the comet role: client connections and their pushes.",
        discussion: """
            Accepts goim clients on TCP and WebSocket (and their TLS variants), authenticates \
            them through logic, and serves job's push calls on its internal RPC. On start it \
            registers with logic (and exits 1 if logic cannot be reached within 10 s), then \
            refreshes the registration every --register-interval. Every comet needs its own \
            --server-id.

            Job dials the address given by --rpc-advertise; by default that is the bound \
            --rpc address, with 0.0.0.0 replaced by 127.0.0.1, which only works when job \
            runs on the same machine.

            \(sharedSettingsNote)
            """,
        options: [
            serveAllOption("server-id"), serveAllOption("tcp"), serveAllOption("ws"),
            serveAllOption("tcp-tls"), serveAllOption("wss"), serveAllOption("tls-cert"),
            serveAllOption("tls-key"),
            rpcOption("127.0.0.1:8092", "Address of the internal RPC for job."),
            optionalServeOption(
                "rpc-advertise", "host:port", .address,
                "The RPC address job dials; default: the bound --rpc, 0.0.0.0 as 127.0.0.1."),
            logicRPCOption,
            serveOption(
                "register-interval", "duration", .duration, "5s",
                "How often the comet refreshes its registration with logic."),
            serveAllOption("handshake-timeout"), serveAllOption("heartbeat-timeout"),
            serveAllOption("max-frame-body"), serveAllOption("outbound-limit"),
            serveAllOption("write-timeout"), metricsOption,
        ] + processOptions)
}
