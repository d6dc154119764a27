// swift-tools-version:6.0
import PackageDescription

/// Switchboard: call import and call routing on Redis and Postgres.
/// Libraries live in `Sources/`, the worker executables in `Workers/`.
let package = Package(
    name: "Switchboard",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "switchboard", targets: ["SwitchboardCLI"]),
        .executable(name: "worker", targets: ["Worker"]),
        .executable(name: "scheduler", targets: ["Scheduler"]),
        .executable(name: "simulator", targets: ["Simulator"]),
        .executable(name: "console", targets: ["Console"]),
        .executable(name: "router", targets: ["Router"]),
        .executable(name: "crm-worker", targets: ["CRMWorker"]),
        .executable(name: "audit-worker", targets: ["AuditWorker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.0"),
    ],
    targets: [
        // C libraries, each behind its own wall. No pkg-config: the .pc files of hiredis and
        // libcurl carry a define SwiftPM rejects, and every header sits on the default include path.
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CLibPQ", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        // Clients for the three C libraries, on one pool of blocking-I/O threads.
        .target(name: "BlockingIO", dependencies: [
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Redis", dependencies: [
            "CHiredis", "BlockingIO",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Postgres", dependencies: [
            "CLibPQ", "BlockingIO",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "HTTPClient", dependencies: [
            "CCurl", "BlockingIO",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Domains.
        .target(name: "Settings", dependencies: ["Redis", "Postgres"]),
        .target(name: "Observability", dependencies: [
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "Queue", dependencies: [
            "Redis",
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "Schema", dependencies: ["Postgres"]),
        .target(name: "Routing", dependencies: [
            "Redis", "Postgres", "Queue", "Vault", "HTTPClient",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        .target(name: "RoutingIntegrations", dependencies: [
            "Routing", "Queue", "Vault", "HTTPClient", "Redis",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "Vault", dependencies: ["Postgres", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Imports", dependencies: ["Queue", "Postgres", "Vault", "HTTPClient", "Settings",
                                               .product(name: "Logging", package: "swift-log"),
                                               .product(name: "Metrics", package: "swift-metrics")], resources: [.copy("Platforms")]),
        .target(name: "Probes", dependencies: ["Queue", "Postgres", "HTTPClient"]),

        // Processes.
        .executableTarget(name: "SwitchboardCLI", dependencies: [
            "Queue", "Redis", "Postgres", "Settings", "Schema", "Imports", "Vault", "HTTPClient", "Routing",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "Console", dependencies: [
            "Imports", "Routing", .product(name: "HTTPTypes", package: "swift-http-types"), "Vault", "Queue", "Redis", "Postgres", "HTTPClient", "Settings", "Observability",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "Router", dependencies: [
            "Routing", "Redis", "Settings", "Observability", "Queue", "Vault", "HTTPClient",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "Simulator", dependencies: [
            "HTTPClient",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "Worker", dependencies: [
            "Queue", "Probes", "Observability", "Settings", "Postgres", "Redis", "HTTPClient", "Imports", "Vault",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Workers/Worker"),
        .executableTarget(name: "Scheduler", dependencies: [
            "Queue", "Observability", "Settings", "Redis",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Workers/Scheduler"),

        .executableTarget(name: "CRMWorker", dependencies: [
            "Queue", "Observability", .product(name: "Hummingbird", package: "hummingbird"), "Settings", "Postgres", "Redis", "HTTPClient", "Vault", "Routing", "RoutingIntegrations",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Workers/CRMWorker"),
        .executableTarget(name: "AuditWorker", dependencies: [
            "Observability", "Settings", "Postgres", "Redis", "Routing",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], path: "Workers/AuditWorker"),

        .testTarget(name: "QueueTests", dependencies: ["Queue"]),
        .testTarget(name: "ImportTests", dependencies: ["Imports", "Queue"]),
        .testTarget(name: "RoutingTests", dependencies: ["Routing", "Redis", .product(name: "NIOCore", package: "swift-nio"),
                                                      .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "IntegrationTests", dependencies: ["Queue", "Redis", "Postgres", "HTTPClient", "Schema", "Vault", "Imports", "Routing",
                                                          .product(name: "Crypto", package: "swift-crypto")]),
    ]
)
