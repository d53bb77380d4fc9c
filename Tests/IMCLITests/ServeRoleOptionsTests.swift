import Foundation
import IMCore
import IMNet
import IMQueue
import IMTestKit
import Testing

@testable import IMCLI

/// `serve comet|logic|router|job` and `serve all --queue`: defaults, the setting layers,
/// `--print-config`, repeated `--router`, and the usage errors (exit 64).
@Suite struct ServeRoleOptionsTests {
    private func configFile(_ text: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("imctl-roles-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("role.conf").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func resolve<Configuration: ServeSettings>(
        _ type: Configuration.Type, _ arguments: [String] = [],
        environment: [String: String] = [:]
    ) throws -> Configuration {
        let command = try ArgumentParser().parse(Configuration.commandPath + arguments)
        return try Configuration.resolve(command, environment: environment)
    }

    /// The first stderr line of a run that must fail with a usage error.
    private func usageError(_ arguments: [String], environment: [String: String] = [:])
        -> String?
    {
        let result = imctl(arguments, environment: environment)
        guard result.status == 64 else { return "exit \(result.status): \(result.stderr)" }
        #expect(result.stderr.contains("Usage: imctl \(arguments[0]) \(arguments[1])"))
        return result.stderr.split(separator: "\n").first.map(String.init)
    }

    static let kafkaDefault = "kafka://127.0.0.1:9092/goim-push-topic"

    // MARK: Defaults and --print-config

    @Test func defaultsAreGoimsPorts() throws {
        let router = RouterServeConfiguration()
        let logic = LogicServeConfiguration()
        let job = JobServeConfiguration()
        let comet = CometServeConfiguration()

        #expect(router.rpcAddress.description == "127.0.0.1:7270")
        #expect(logic.httpAddress.description == "0.0.0.0:7172")
        #expect(logic.rpcAddress.description == "127.0.0.1:7170")
        #expect(logic.routers == [RouterEndpoint(name: "1", address: router.rpcAddress)])
        #expect(logic.queue.url == .kafka(try KafkaURL(parsing: Self.kafkaDefault)))
        #expect(logic.publishTimeout == .seconds(10) && logic.cometExpiry == .seconds(15))
        #expect(logic.httpMaxBody == 1 << 20)
        #expect(job.queue == logic.queue && job.logicRPCAddress == logic.rpcAddress)
        #expect(job.roomBatch == 40 && job.roomWindow == .seconds(1))
        #expect(comet.serverID == 1 && comet.rpcAddress.description == "127.0.0.1:8092")
        #expect(comet.tcpAddress.description == "0.0.0.0:8080")
        #expect(comet.webSocketAddress.description == "0.0.0.0:8090")
        #expect(comet.logicRPCAddress == logic.rpcAddress && comet.rpcAdvertiseAddress == nil)
        #expect(comet.registerInterval == .seconds(5) && comet.tcpTLSAddress == nil)
        #expect(ServeConfiguration().queue.url == .memory)
    }

    @Test func printConfigOfEachRoleListsItsSettingsInTheTreesOrder() {
        let router = imctl(["serve", "router", "--print-config"])
        let logic = imctl(["serve", "logic", "--print-config", "--loops", "2"])
        let job = imctl(["serve", "job", "--print-config"], environment: ["IMCTL_ROOM_BATCH": "8"])

        #expect(router.status == 0 && logic.status == 0 && job.status == 0)
        #expect(router.stdout == "rpc = 127.0.0.1:7270\nloops = 0\nlog-level = info\n")
        #expect(
            logic.stdout == """
                http = 0.0.0.0:7172
                rpc = 127.0.0.1:7170
                router = 1=127.0.0.1:7270
                queue = \(Self.kafkaDefault)
                publish-timeout = 10s
                comet-expiry = 15s
                http-max-body = 1MiB
                loops = 2
                log-level = info

                """)
        #expect(
            job.stdout == """
                queue = \(Self.kafkaDefault)
                logic-rpc = 127.0.0.1:7170
                room-batch = 8
                room-window = 1s
                room-queue = 80
                loops = 0
                log-level = info

                """)
    }

    @Test func printConfigOfCometShowsTheAdvertisedAddressOnlyWhenGiven() {
        let plain = imctl(["serve", "comet", "--print-config"])
        let advertised = imctl(
            ["serve", "comet", "--print-config", "--rpc-advertise", "10.0.0.5:8092"])

        #expect(plain.status == 0 && !plain.stdout.contains("rpc-advertise"))
        #expect(plain.stdout.hasPrefix("server-id = 1\ntcp = 0.0.0.0:8080\nws = 0.0.0.0:8090\n"))
        #expect(plain.stdout.contains("\nrpc = 127.0.0.1:8092\nlogic-rpc = 127.0.0.1:7170\n"))
        #expect(advertised.stdout.contains("\nrpc-advertise = 10.0.0.5:8092\n"))
    }

    @Test(arguments: [
        ["serve", "router", "--rpc", "127.0.0.1:0", "--loops", "3"],
        ["serve", "logic", "--router", "a=10.0.0.1:1", "--router", "b=10.0.0.2:2",
         "--queue", "kafka://k1:9092,k2:9092/topic?group.id=g&acks=all",
         "--publish-timeout", "2500ms"],
        ["serve", "job", "--room-window", "250ms", "--logic-rpc", "10.0.0.9:7170"],
        ["serve", "comet", "--server-id", "7", "--wss", "127.0.0.1:9443", "--tls-cert", "c.pem",
         "--tls-key", "k.pem", "--rpc-advertise", "10.0.0.5:8092"],
        ["serve", "all", "--queue", "kafka://127.0.0.1:9092/goim-push-topic"],
    ])
    func printedConfigReadsBackUnchanged(arguments: [String]) throws {
        let first = imctl(arguments + ["--print-config"])
        let path = try configFile(first.stdout)

        let second = imctl(Array(arguments.prefix(2)) + ["--print-config", "--config", path])

        #expect(first.status == 0)
        #expect(second.status == 0)
        #expect(second.stdout == first.stdout)
    }

    // MARK: Layers

    @Test func roleSettingsFollowFlagEnvironmentFileDefault() throws {
        let path = try configFile(
            """
            rpc = 1.1.1.1:1
            logic-rpc = 2.2.2.2:2
            register-interval = 7s
            """)
        let environment = [
            "IMCTL_RPC": "3.3.3.3:3", "IMCTL_LOGIC_RPC": "4.4.4.4:4", "IMCTL_CONFIG": path,
        ]

        let comet = try resolve(
            CometServeConfiguration.self, ["--rpc", "5.5.5.5:5"], environment: environment)

        #expect(comet.rpcAddress.description == "5.5.5.5:5")  // flag
        #expect(comet.logicRPCAddress.description == "4.4.4.4:4")  // environment
        #expect(comet.registerInterval == .seconds(7))  // file
        #expect(comet.serverID == 1)  // default
    }

    @Test func everyConfigKeyOfEveryServeCommandHasASettingAndAnEnvironmentVariable() {
        let settingKeys: [[String]: [String]] = [
            ServeConfiguration.commandPath: ServeConfiguration.settings.map(\.key),
            RouterServeConfiguration.commandPath: RouterServeConfiguration.settings.map(\.key),
            LogicServeConfiguration.commandPath: LogicServeConfiguration.settings.map(\.key),
            JobServeConfiguration.commandPath: JobServeConfiguration.settings.map(\.key),
            CometServeConfiguration.commandPath: CometServeConfiguration.settings.map(\.key),
        ]
        for (path, keys) in settingKeys {
            let options = CommandTree.command(at: path)?.options ?? []
            let configKeys = options.filter(\.isConfigKey)
            #expect(Set(configKeys.map(\.long)) == Set(keys), "\(path)")
            #expect(keys.count == Set(keys).count, "\(path) repeats a key")
            for option in configKeys {
                #expect(option.environment == OptionSpec.environmentName(for: option.long))
            }
            #expect(options.contains { $0.long == "print-config" }, "\(path)")
        }
    }

    // MARK: --router

    @Test func repeatedRouterFlagsKeepTheirOrder() throws {
        let logic = try resolve(
            LogicServeConfiguration.self,
            ["--router", "b=127.0.0.1:7271", "--router=a=127.0.0.1:7270"])

        #expect(logic.routers.map(\.description) == ["b=127.0.0.1:7271", "a=127.0.0.1:7270"])
    }

    @Test func routerListFromEnvironmentOrFileIsCommaSeparated() throws {
        let path = try configFile("router = \"x=10.0.0.1:1, y=10.0.0.2:2\"")

        let fromEnvironment = try resolve(
            LogicServeConfiguration.self, environment: ["IMCTL_ROUTER": "1=h1:7270,2=h2:7270"])
        let fromFile = try resolve(LogicServeConfiguration.self, ["--config", path])

        #expect(fromEnvironment.routers.map(\.name) == ["1", "2"])
        #expect(fromEnvironment.routers.map(\.address.host) == ["h1", "h2"])
        #expect(fromFile.routers.map(\.description) == ["x=10.0.0.1:1", "y=10.0.0.2:2"])
    }

    @Test func routerFlagsReplaceTheEnvironmentList() throws {
        let logic = try resolve(
            LogicServeConfiguration.self, ["--router", "9=127.0.0.1:9"],
            environment: ["IMCTL_ROUTER": "1=h1:7270,2=h2:7270"])

        #expect(logic.routers.map(\.description) == ["9=127.0.0.1:9"])
    }

    @Test(arguments: [
        (["--router", "1=127.0.0.1:7270", "--router", "1=127.0.0.1:7271"],
         "Error: invalid value '1=127.0.0.1:7270,1=127.0.0.1:7271' for option '--router': "
            + "router name '1' is given twice (ketama needs distinct names)"),
        (["--router", "127.0.0.1:7270"],
         "Error: invalid value '127.0.0.1:7270' for option '--router': "
            + "'127.0.0.1:7270' is not NAME=HOST:PORT"),
        (["--router", "1=127.0.0.1"],
         "Error: invalid value '1=127.0.0.1' for option '--router': '1=127.0.0.1': "
            + "expected HOST:PORT"),
        (["--router", "=127.0.0.1:1"],
         "Error: invalid value '=127.0.0.1:1' for option '--router': "
            + "'=127.0.0.1:1' is not NAME=HOST:PORT"),
    ] as [([String], String)])
    func badRouterListsAreUsageErrors(arguments: [String], message: String) {
        #expect(usageError(["serve", "logic", "--print-config"] + arguments) == message)
    }

    // MARK: --queue

    @Test(arguments: [["serve", "logic"], ["serve", "job"]])
    func memoryQueueIsRefusedOutsideServeAll(command: [String]) throws {
        let expected = "Error: invalid value 'memory' for option '--queue': the memory queue "
            + "works only inside 'imctl serve all'; give \(KafkaURLError.usage)"
        let path = try configFile("queue = memory")

        #expect(usageError(command + ["--queue", "memory"]) == expected)
        #expect(
            usageError(command, environment: ["IMCTL_QUEUE": "memory"])?
                .hasPrefix("Error: invalid value 'memory' in IMCTL_QUEUE: the memory queue")
                == true)
        #expect(
            usageError(command + ["--config", path])?
                .hasPrefix("Error: \(path):1: invalid value 'memory' for 'queue'") == true)
    }

    @Test func badQueueURLsAreUsageErrors() {
        let unsupported = usageError(["serve", "all", "--queue", "redis://h:1/t"])
        let noTopic = usageError(["serve", "job", "--queue", "kafka://127.0.0.1:9092"])
        let badProperty = usageError(
            ["serve", "logic", "--queue", "kafka://127.0.0.1:9092/t?sesion.timeout.ms=1"])

        #expect(unsupported?.contains("unsupported queue \"redis://h:1/t\"") == true)
        #expect(noTopic?.contains("Kafka URL names no topic") == true)
        #expect(badProperty?.contains("\"sesion.timeout.ms\" is invalid") == true)
    }

    @Test func serveAllTakesAKafkaQueue() throws {
        let configuration = try resolve(
            ServeConfiguration.self, ["--queue", "kafka://127.0.0.1:9092/t?group.id=embedded"])

        guard case .kafka(let url) = configuration.queue.url else {
            Issue.record("expected a Kafka queue, got \(configuration.queue.url)")
            return
        }
        #expect(url.topic == "t" && url.groupID == "embedded")
    }

    @Test func printConfigKeepsTheQueueURLAsGiven() {
        let url = "kafka://127.0.0.1:9092/t?sasl.password=s3cret"
        let result = imctl(["serve", "job", "--print-config", "--queue", url])

        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("queue = \(url)\n"))
    }

    // MARK: comet

    @Test func advertisedAddressDefaultsToTheBoundOneWithALoopbackHost() throws {
        let comet = CometServeConfiguration()
        let advertised = try resolve(
            CometServeConfiguration.self, ["--rpc-advertise", "comet-7.internal:8092"])
        let bound = SocketAddress(host: "0.0.0.0", port: 41000)
        let specific = SocketAddress(host: "10.1.2.3", port: 41000)

        #expect(comet.advertisedRPCAddress(bound: bound).description == "127.0.0.1:41000")
        #expect(comet.advertisedRPCAddress(bound: specific) == specific)
        #expect(
            advertised.advertisedRPCAddress(bound: bound).description == "comet-7.internal:8092")
    }

    @Test(arguments: [
        (["--rpc-advertise", "0.0.0.0:8092"],
         "Error: option '--rpc-advertise' needs an address job can dial, not 0.0.0.0:8092"),
        (["--rpc-advertise", "10.0.0.1:0"],
         "Error: option '--rpc-advertise' needs an address job can dial, not 10.0.0.1:0"),
        (["--tcp-tls", "127.0.0.1:0"], "Error: option '--tls-cert' is required with '--tcp-tls'"),
        (["--server-id", "0"],
         "Error: invalid value '0' for option '--server-id': must be between 1 and 2147483647"),
        (["--logic-rpc", "nowhere"],
         "Error: invalid value 'nowhere' for option '--logic-rpc': expected HOST:PORT"),
        (["--register-interval", "0s"],
         "Error: invalid value '0s' for option '--register-interval': "
            + "must be a duration above zero, such as 500ms, 5s or 1m30s"),
    ] as [([String], String)])
    func badCometSettingsAreUsageErrors(arguments: [String], message: String) {
        #expect(usageError(["serve", "comet", "--print-config"] + arguments) == message)
    }

    @Test func unknownKeyInARoleConfigFileNamesTheLine() throws {
        let path = try configFile("rpc = 127.0.0.1:0\nhttp = 127.0.0.1:0\n")

        let message = usageError(["serve", "router", "--config", path])

        #expect(message == "Error: \(path):2: unknown key 'http'")
    }

    // MARK: Starting

    @Test func routerThatCannotBindExitsOneWithOneErrorLine() throws {
        let taken = try FakeServer(connections: 0) { _ in }
        let address = "127.0.0.1:\(taken.port)"

        let result = try CommandRunner.imctl(
            ["serve", "router", "--rpc", address, "--loops", "1"], timeout: 20)

        #expect(result.status == 1)
        let errors = result.stderr.split(separator: "\n").filter { $0.contains(" error ") }
        #expect(errors.count == 1)
        #expect(errors.first?.contains("cannot start: ") == true)
    }
}
