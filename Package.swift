// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [
    .treatAllWarnings(as: .error),
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release)),
]

let package = Package(
    name: "Relais",
    products: [
        .executable(name: "relais", targets: ["RelaisDaemon"]),
        .executable(name: "relais-bench", targets: ["RelaisBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: ["YAML"]),
        // Already swift-configuration's; named for `FilePath`, which its providers take.
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        // Already swift-configuration's YAML parser; read directly to refuse unknown keys.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C libraries from Debian's packages: a modulemap and a shim header each.
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CLibpq", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CJSONC", pkgConfig: "json-c", providers: [.apt(["libjson-c-dev"])]),

        // Thin safe wrappers that own the C pointers.
        .target(name: "RedisClient", dependencies: ["CHiredis"], swiftSettings: strict),
        .target(name: "PostgresClient", dependencies: ["CLibpq"], swiftSettings: strict),
        .target(name: "SystemdClient", dependencies: ["CSystemd"], swiftSettings: strict),
        .target(name: "CurlClient", dependencies: ["CCurl"], swiftSettings: strict),
        .target(name: "JSONReader", dependencies: ["CJSONC"], swiftSettings: strict),

        // Long-running threads: a stop signal to sleep on, the reconnect backoff, named threads.
        .target(name: "RelaisWorkers", swiftSettings: strict),

        // The pure domain: job types and their rules, plans, retry schedule. Plain Swift:
        // no I/O, no C module.
        .target(name: "RelaisDomain", swiftSettings: strict),

        // The job contract read from bytes: the envelope and each field's rules, through
        // json-c, handing the domain plain Swift values.
        .target(name: "RelaisContract", dependencies: ["JSONReader", "RelaisDomain"], swiftSettings: strict),

        // The queue engine: consumer groups, batches, acks, retries, dead letters, claims,
        // over one non-generic `JobHandler` per queue.
        .target(
            name: "RelaisQueue",
            dependencies: [
                "RedisClient", "RelaisDomain", "RelaisLogging", "RelaisWorkers",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),

        // The store: migrations and the SQL of each use case.
        .target(
            name: "RelaisStore",
            dependencies: ["JSONReader", "PostgresClient", "RelaisDomain"],
            swiftSettings: strict),

        // The job families: one adapter each (queue, catalogue, processor) and their list.
        .target(
            name: "RelaisJobs",
            dependencies: ["JSONReader", "RelaisContract", "RelaisDomain", "RelaisQueue", "RelaisStore"],
            swiftSettings: strict),

        // Messages: templates (files, swift-mustache), euros, dates in the shop's zone, SMS segments.
        .target(
            name: "RelaisMessages",
            dependencies: ["RelaisDomain", .product(name: "Mustache", package: "swift-mustache")],
            swiftSettings: strict),

        // Delivery: e-mail, SMS and signed webhooks through libcurl; the outbox worker.
        .target(
            name: "RelaisDelivery",
            dependencies: [
                "CurlClient", "RelaisDomain", "RelaisMessages", "RelaisWorkers",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),

        // Log lines for people (logfmt) and for journald, with personal data redacted.
        .target(
            name: "RelaisLogging",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),

        // The executable: configuration, logging, HTTP endpoint, lifecycle, CLI.
        .executableTarget(
            name: "RelaisDaemon",
            dependencies: [
                "PostgresClient", "RedisClient", "RelaisDelivery", "RelaisDomain", "RelaisJobs", "RelaisLogging",
                "RelaisMessages", "RelaisQueue", "RelaisStore", "RelaisWorkers", "SystemdClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict),

        // The benchmark: drives a real `relais serve` and prints figures.
        .executableTarget(
            name: "RelaisBench",
            dependencies: ["RedisClient", "PostgresClient", "RelaisDomain"],
            swiftSettings: strict),

        // Throwaway servers and isolated databases/prefixes for tests.
        .target(
            name: "RelaisTestSupport",
            dependencies: ["RedisClient", "PostgresClient", "RelaisStore"],
            path: "Tests/Support",
            swiftSettings: strict),

        .testTarget(
            name: "RelaisDomainTests", dependencies: ["JSONReader", "RelaisContract", "RelaisDomain", "RelaisJobs"],
            swiftSettings: strict),
        .testTarget(name: "RelaisWorkersTests", dependencies: ["RelaisWorkers"], swiftSettings: strict),
        .testTarget(name: "RelaisMessagesTests", dependencies: ["RelaisMessages", "RelaisDomain"], swiftSettings: strict),
        .testTarget(
            name: "RelaisDeliveryTests",
            dependencies: [
                "RelaisDelivery", "CurlClient", "RelaisTestSupport", "RelaisDomain", "RelaisMessages", "RelaisStore",
                "RelaisWorkers", "PostgresClient", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "RelaisLoggingTests",
            dependencies: ["RelaisLogging", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .testTarget(
            name: "RelaisIntegrationTests",
            dependencies: [
                "RelaisTestSupport", "RelaisContract", "RelaisDomain", "RelaisJobs", "RelaisQueue", "RelaisStore",
                "RedisClient", "PostgresClient",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "RelaisEndToEndTests",
            dependencies: ["RelaisTestSupport"],
            swiftSettings: strict),
    ]
)
