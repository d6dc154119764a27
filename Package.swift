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
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.19"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
    ],
    targets: [
        // C libraries, each behind its own wall. No pkg-config: the .pc files of hiredis and
        // libcurl carry a define SwiftPM rejects, and every header sits on the default include path.
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CLibPQ", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        // Small pure helpers every module may use (hex, base URLs, TTL caches); Foundation only.
        .target(name: "Basics"),

        // Clients for the three C libraries, on one pool of blocking-I/O threads.
        .target(name: "BlockingIO", dependencies: [
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Redis", dependencies: [
            "Basics", "CHiredis", "BlockingIO",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Postgres", dependencies: [
            "CLibPQ", "BlockingIO",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // libcurl: outbound HTTP (HTTPClient) and email (MailSender).
        .target(name: "Curl", dependencies: [
            "Basics", "CCurl", "BlockingIO",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // HTTPS for every server: the certificate and key from configuration, TLS 1.2 or newer.
        .target(name: "ServerTLS", dependencies: [
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),

        // Domains.
        .target(name: "Settings", dependencies: ["Redis", "Postgres", "Curl", "ServerTLS"]),
        .target(name: "Observability", dependencies: [
            "Basics", "ServerTLS",
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ]),
        .target(name: "Queue", dependencies: [
            "Basics", "Redis",
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "Schema", dependencies: ["Postgres"]),
        .target(name: "Vault", dependencies: ["Basics", "Postgres", .product(name: "Crypto", package: "swift-crypto")]),
        // Pure routing logic: rules, decision, call flow, TwiML, phone numbers, signatures, key
        // names, routing job payloads. Links no C library, so its tests need no servers.
        .target(name: "RoutingCore", dependencies: ["Basics", .product(name: "Crypto", package: "swift-crypto")]),
        // Routing state several processes share: rule versions, tenant access, dialer state,
        // circuit breakers, the audit log.
        .target(name: "Routing", dependencies: [
            "RoutingCore", "Redis", "Postgres", "Vault",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // People and access: users, roles, API tokens, sessions, the access policy (the one place
        // that decides), and the hash-chained log of user actions. Console and CLI share it.
        .target(name: "Access", dependencies: [
            "Basics", "Postgres", "Redis", "Vault",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // Clients of the vendors routing talks to: Braze, Zendesk Talk, Dialfire, SMS, email.
        .target(name: "VendorClients", dependencies: ["Basics", "RoutingCore", "Curl", "Queue"]),
        .target(name: "Imports", dependencies: ["Basics", "Queue", "Postgres", "Vault", "Curl", "Settings",
                                               .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                                               .product(name: "Logging", package: "swift-log"),
                                               .product(name: "Metrics", package: "swift-metrics")], resources: [.copy("Catalog/Platforms")]),

        // Processes.
        .executableTarget(name: "SwitchboardCLI", dependencies: [
            "Access", "Basics", "Queue", "Redis", "Postgres", "Settings", "Schema", "Imports", "Vault", "Curl", "Routing", "RoutingCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "Console", dependencies: [
            "Access", "ServerTLS", "Basics", "Imports", "Routing", "RoutingCore", .product(name: "HTTPTypes", package: "swift-http-types"), "Vault", "Queue", "Redis", "Postgres", "Curl",
            "Settings", "Observability",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "Router", dependencies: [
            "Basics", "ServerTLS", .product(name: "NIOSSL", package: "swift-nio-ssl"), "Routing", "RoutingCore", "VendorClients", "Redis", "Settings", "Observability", "Queue", "Vault", "Curl",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "Simulator", dependencies: [
            "Basics", "Curl", "ServerTLS", .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "Worker", dependencies: [
            "Queue", "Observability", "Settings", "Postgres", "Redis", "Curl", "Imports", "Vault",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Workers/Worker"),
        .executableTarget(name: "Scheduler", dependencies: [
            "Queue", "Observability", "Settings", "Redis",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Workers/Scheduler"),
        .executableTarget(name: "CRMWorker", dependencies: [
            "Queue", "Observability", .product(name: "Hummingbird", package: "hummingbird"), "Settings", "Postgres", "Redis", "Curl", "Vault",
            "Routing", "RoutingCore", "VendorClients",
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], path: "Workers/CRMWorker"),
        .executableTarget(name: "AuditWorker", dependencies: [
            "Access", "Curl", "Queue", "Vault", "Observability", "Settings", "Postgres", "Redis", "Routing", "RoutingCore",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], path: "Workers/AuditWorker"),

        // Unit tests (no servers): one target per library with logic.
        .testTarget(name: "BasicsTests", dependencies: ["Basics"]),
        .testTarget(name: "RoutingCoreTests", dependencies: ["RoutingCore"]),
        .testTarget(name: "RedisTests", dependencies: ["Redis", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "RouterTests", dependencies: ["Router", "RoutingCore", "Basics",
                                                      .product(name: "NIOHTTP1", package: "swift-nio"),
                                                      .product(name: "NIOEmbedded", package: "swift-nio")]),
        .testTarget(name: "VendorClientsTests", dependencies: ["VendorClients"]),
        .testTarget(name: "AccessTests", dependencies: ["Access", "Vault"]),
        .testTarget(name: "QueueTests", dependencies: ["Queue", "Basics"]),
        .testTarget(name: "ImportTests", dependencies: ["Basics", "Imports", "Queue"]),
        // Integration tests against the real Redis and Postgres that ops/test starts.
        .testTarget(name: "IntegrationTests", dependencies: ["Access", "Queue", "Redis", "Postgres", "Curl", "Schema", "Vault", "Imports", "Routing", "RoutingCore",
                                                          "VendorClients", "Settings", "Observability", "Router", "CRMWorker", "AuditWorker", "Scheduler", "Console", "Worker", "ServerTLS",
                                                          .product(name: "Crypto", package: "swift-crypto")]),
    ]
)
