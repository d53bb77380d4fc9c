import Foundation
import IMCore
import IMNet
import Testing

@testable import IMCLI

@Suite struct ServeConfigurationTests {
    /// A config file in a fresh temporary directory.
    private func configFile(_ text: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("imctl-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("serve.conf").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func resolve(_ arguments: [String], environment: [String: String] = [:]) throws
        -> ServeConfiguration
    {
        let command = try ArgumentParser().parse(["serve", "all"] + arguments)
        return try ServeConfiguration.resolve(command, environment: environment)
    }

    @Test func defaultsAreGoimsPortsAndTheDesignedLimits() {
        let configuration = ServeConfiguration()

        #expect(configuration.tcpAddress == SocketAddress(host: "0.0.0.0", port: 8080))
        #expect(configuration.webSocketAddress == SocketAddress(host: "0.0.0.0", port: 8090))
        #expect(configuration.httpAddress == SocketAddress(host: "0.0.0.0", port: 7172))
        #expect(configuration.serverID == 1)
        #expect(configuration.loopCount == 0)
        #expect(configuration.handshakeTimeout == .seconds(5))
        #expect(configuration.heartbeatTimeout == .seconds(300))
        #expect(configuration.maxFrameBody == 4096)
        #expect(configuration.outboundLimit == 1 << 20)
        #expect(configuration.writeTimeout == .seconds(10))
        #expect(configuration.httpMaxBody == 1 << 20)
        #expect(configuration.roomBatch == 40)
        #expect(configuration.roomWindow == .seconds(1))
        #expect(configuration.queueCapacity == 65536)
        #expect(configuration.logLevel == .info)
    }

    @Test func flagBeatsEnvironmentBeatsFileBeatsDefault() throws {
        let path = try configFile(
            """
            tcp = 1.1.1.1:1
            http = 2.2.2.2:2
            ws = 3.3.3.3:3
            """)
        let environment = [
            "IMCTL_TCP": "4.4.4.4:4", "IMCTL_HTTP": "5.5.5.5:5", "IMCTL_CONFIG": path,
        ]

        let configuration = try resolve(["--tcp", "6.6.6.6:6"], environment: environment)

        #expect(configuration.tcpAddress.description == "6.6.6.6:6")  // flag
        #expect(configuration.httpAddress.description == "5.5.5.5:5")  // environment
        #expect(configuration.webSocketAddress.description == "3.3.3.3:3")  // file
        #expect(configuration.serverID == 1)  // default
    }

    @Test func configFlagBeatsConfigEnvironment() throws {
        let fromFlag = try configFile("loops = 2")
        let fromEnvironment = try configFile("loops = 7")

        let configuration = try resolve(
            ["--config", fromFlag], environment: ["IMCTL_CONFIG": fromEnvironment])

        #expect(configuration.loopCount == 2)
    }

    @Test func roomQueueReachesJobAndHoldsAtLeastTwoBatches() throws {
        let roomy = try resolve(["--room-queue", "500"])
        let small = try resolve(["--room-queue", "10", "--room-batch", "40"])

        #expect(roomy.job.roomQueueLimit == 500)
        #expect(small.job.roomQueueLimit == 80)
        #expect(try resolve([]).job.roomQueueLimit == 80)
    }

    @Test func emptyEnvironmentVariableCountsAsUnset() throws {
        let configuration = try resolve([], environment: ["IMCTL_LOOPS": ""])

        #expect(configuration.loopCount == 0)
    }

    @Test func printConfigPrintsEveryKeyInConfigFileSyntax() {
        let result = imctl(
            ["serve", "all", "--print-config", "--heartbeat-timeout", "90s", "--loops=2"],
            environment: ["IMCTL_LOG_LEVEL": "debug", "IMCTL_MAX_FRAME_BODY": "8192"])

        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        #expect(
            result.stdout == """
                tcp = 0.0.0.0:8080
                ws = 0.0.0.0:8090
                http = 0.0.0.0:7172
                server-id = 1
                loops = 2
                handshake-timeout = 5s
                heartbeat-timeout = 1m30s
                max-frame-body = 8KiB
                outbound-limit = 1MiB
                write-timeout = 10s
                http-max-body = 1MiB
                room-batch = 40
                room-window = 1s
                room-queue = 80
                queue = memory
                queue-capacity = 65536
                log-level = debug

                """)
    }

    @Test func printedConfigReadsBackUnchanged() throws {
        let first = imctl(
            ["serve", "all", "--print-config", "--tcp", "127.0.0.1:0", "--room-window", "250ms",
             "--outbound-limit", "3000"])
        let path = try configFile(first.stdout)

        let second = imctl(["serve", "all", "--print-config", "--config", path])

        #expect(second.status == 0)
        #expect(second.stdout == first.stdout)
    }

    @Test func configFileAcceptsCommentsQuotesAndBlankLines() throws {
        let path = try configFile(
            """
            # imctl serve all settings

              tcp = "127.0.0.1:9000"   # quoted
            http='127.0.0.1:9001'
            loops = 3 # trailing comment
            log-level = warning
            """)

        let configuration = try resolve(["--config", path])

        #expect(configuration.tcpAddress.description == "127.0.0.1:9000")
        #expect(configuration.httpAddress.description == "127.0.0.1:9001")
        #expect(configuration.loopCount == 3)
        #expect(configuration.logLevel == .warning)
    }

    @Test(arguments: [
        ("tcp = 0.0.0.0:1\ntcpp = 1.2.3.4:5", "2: unknown key 'tcpp' (did you mean 'tcp'?)"),
        ("# ok\n\nloops = lots", "3: invalid value 'lots' for 'loops': expected an integer"),
        ("loops", "1: expected 'key = value'"),
        ("loops =", "1: missing value for 'loops'"),
        ("tcp = \"1.2.3.4:5", "1: missing closing \""),
        ("tcp = \"1.2.3.4:5\" extra", "1: unexpected text after the closing quote"),
        ("loops = 1\nloops = 2", "2: duplicate key 'loops' (first set on line 1)"),
        ("print-config = yes", "1: unknown key 'print-config'"),
        ("server-id = 0", "1: invalid value '0' for 'server-id': must be between 1 and 2147483647"),
    ])
    func configFileErrorsNameFileAndLine(text: String, message: String) throws {
        let path = try configFile(text)

        let result = imctl(["serve", "all", "--print-config", "--config", path])

        #expect(result.status == 64)
        #expect(result.stdout.isEmpty)
        let firstLine = result.stderr.split(separator: "\n").first.map(String.init)
        #expect(firstLine == "Error: \(path):\(message)")
        #expect(result.stderr.contains("See 'imctl serve all --help'."))
    }

    @Test func missingConfigFileIsAUsageError() {
        let result = imctl(["serve", "all", "--config", "/nonexistent/imctl.conf"])

        #expect(result.status == 64)
        #expect(
            result.stderr.hasPrefix(
                "Error: cannot read config file '/nonexistent/imctl.conf': No such file or directory\n"))
    }

    @Test(arguments: [
        (["--server-id", "0"], [:],
         "invalid value '0' for option '--server-id': must be between 1 and 2147483647"),
        (["--loops", "5000"], [:], "invalid value '5000' for option '--loops': must be between 0 and 1024"),
        ([], ["IMCTL_HEARTBEAT_TIMEOUT": "0"],
         "invalid value '0' in IMCTL_HEARTBEAT_TIMEOUT: "
            + "must be a duration above zero, such as 500ms, 5s or 1m30s"),
        ([], ["IMCTL_TCP": "nowhere"], "invalid value 'nowhere' in IMCTL_TCP: expected HOST:PORT"),
        ([], ["IMCTL_LOG_LEVEL": "loud"],
         "invalid value 'loud' in IMCTL_LOG_LEVEL: expected one of trace, debug, info, warning, error"),
    ] as [([String], [String: String], String)])
    func outOfRangeValuesNameTheirSource(
        arguments: [String], environment: [String: String], message: String
    ) {
        let result = imctl(["serve", "all", "--print-config"] + arguments, environment: environment)

        #expect(result.status == 64)
        #expect(result.stderr.split(separator: "\n").first.map(String.init) == "Error: \(message)")
    }

    @Test func environmentNamesComeFromTheLongOption() {
        #expect(OptionSpec.environmentName(for: "heartbeat-timeout") == "IMCTL_HEARTBEAT_TIMEOUT")
        for option in CommandTree.serveAllOptions where option.isConfigKey {
            #expect(option.environment == OptionSpec.environmentName(for: option.long))
            #expect(ServeConfiguration.settings.contains { $0.key == option.long }, "\(option.long)")
        }
    }
}
