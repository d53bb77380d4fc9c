// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "imctl",
    products: [
        .executable(name: "imctl", targets: ["imctl"])
    ],
    targets: [
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl"),
        .systemLibrary(name: "CHTTPParser", path: "Sources/CHTTPParser"),
        .systemLibrary(name: "CRdKafka", path: "Sources/CRdKafka", pkgConfig: "rdkafka"),
        .systemLibrary(name: "CEditLine", path: "Sources/CEditLine", pkgConfig: "libedit"),

        .target(name: "IMCore", dependencies: ["COpenSSL"], swiftSettings: strict),
        .target(name: "IMNet", dependencies: ["IMCore", "CLinux", "CHTTPParser", "COpenSSL"], swiftSettings: strict),
        .target(name: "IMQueue", dependencies: ["IMCore", "CRdKafka"], swiftSettings: strict),
        .target(name: "IMRouter", dependencies: ["IMCore", "IMNet"], swiftSettings: strict),
        .target(name: "IMJob", dependencies: ["IMCore", "IMQueue"], swiftSettings: strict),
        .target(name: "IMLogic", dependencies: ["IMCore", "IMNet", "IMQueue"], swiftSettings: strict),
        .target(name: "IMComet", dependencies: ["IMCore", "IMNet", "CLinux"], swiftSettings: strict),
        .target(
            name: "IMCLI",
            dependencies: [
                "IMCore", "IMNet", "IMQueue", "IMRouter", "IMJob", "IMLogic", "IMComet", "CLinux", "CEditLine",
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "imctl", dependencies: ["IMCLI"], swiftSettings: strict),
        .target(name: "IMTestKit", dependencies: ["IMCore", "IMNet"], swiftSettings: strict),
        // Counts heap allocations in the test executable (design.md §4.8); never in imctl.
        .target(name: "CAllocationCounter"),

        .testTarget(
            name: "IMCoreTests", dependencies: ["IMCore", "IMTestKit", "CAllocationCounter"],
            swiftSettings: strict),
        .testTarget(name: "IMNetTests", dependencies: ["IMNet", "IMTestKit"], swiftSettings: strict),
        .testTarget(name: "IMQueueTests", dependencies: ["IMQueue", "IMTestKit"], swiftSettings: strict),
        .testTarget(name: "IMRouterTests", dependencies: ["IMRouter", "IMNet", "IMTestKit"], swiftSettings: strict),
        .testTarget(name: "IMJobTests", dependencies: ["IMJob", "IMQueue"], swiftSettings: strict),
        .testTarget(
            name: "IMLogicTests", dependencies: ["IMLogic", "IMRouter", "IMQueue", "IMNet", "IMTestKit"],
            swiftSettings: strict),
        .testTarget(
            name: "IMCometTests", dependencies: ["IMComet", "IMTestKit", "CAllocationCounter"],
            swiftSettings: strict),
        .testTarget(name: "IMCLITests", dependencies: ["IMCLI", "IMTestKit"], swiftSettings: strict),
        .testTarget(name: "IntegrationTests", dependencies: ["IMTestKit", "IMCore"], swiftSettings: strict),
    ]
)
