// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "tributary",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tributary", targets: ["tributary"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
    ],
    targets: [
        // C libraries enter through these targets only; TributaryKafka, TributaryGit and TributaryRender wrap them.
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .systemLibrary(
            name: "CLibgit2",
            pkgConfig: "libgit2",
            providers: [.apt(["libgit2-dev"])]
        ),
        // Jsonnet sources (`directory.jsonnet`). Debian's libjsonnet-dev ships no pkg-config file.
        .systemLibrary(
            name: "CJsonnet",
            providers: [.apt(["libjsonnet-dev"])]
        ),
        // The executable's allocator: glibc malloc was a fifth of the listener's time per webhook.
        .systemLibrary(
            name: "CJemalloc",
            pkgConfig: "jemalloc",
            providers: [.apt(["libjemalloc-dev"])]
        ),
        .target(
            name: "TributaryKafka",
            dependencies: [
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The consumer-stage engine every consuming stage runs on.
        .target(
            name: "TributaryStage",
            dependencies: [
                "TributaryKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Events, configuration, topics: what every stage shares. Knows neither Kafka nor git.
        .target(
            name: "TributaryCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Tributary's events and settings on the Kafka client: the CloudEvents binary binding, client configuration.
        .target(
            name: "TributaryKafkaBinding",
            dependencies: ["TributaryCore", "TributaryKafka"]
        ),
        .target(
            name: "TributaryWebhooks",
            dependencies: [
                "TributaryKafkaBinding",
                "TributaryCore",
                "TributaryKafka",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TributaryRender",
            dependencies: [
                "CJsonnet",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]
        ),
        // A Kubernetes API client: discovery, server-side apply, delete; kubeconfig and credentials; health.
        .target(
            name: "TributaryKubernetes",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "TributaryGit",
            dependencies: [
                "CLibgit2",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // An app's source as configured: its remote with credentials resolved, its rendered manifests.
        .target(
            name: "TributarySource",
            dependencies: ["TributaryCore", "TributaryGit", "TributaryRender"]
        ),
        .target(
            name: "TributaryPlanner",
            dependencies: [
                "TributaryKafkaBinding",
                "TributarySource",
                "TributaryCore",
                "TributaryKafka",
                "TributaryStage",
                "TributaryGit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TributarySync",
            dependencies: [
                "TributaryKafkaBinding",
                "TributarySource",
                "TributaryCore",
                "TributaryKafka",
                "TributaryStage",
                "TributaryGit",
                "TributaryKubernetes",
                "TributaryRender",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TributaryNotify",
            dependencies: [
                "TributaryKafkaBinding",
                "TributaryCore",
                "TributaryKafka",
                "TributaryStage",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The status API: a read model of every app built from the topics, served over HTTP.
        .target(
            name: "TributaryServer",
            dependencies: [
                "TributaryKafkaBinding",
                "TributaryCore",
                "TributaryKafka",
                "TributaryStage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "tributary",
            dependencies: [
                "TributaryKafkaBinding",
                "TributarySource",
                "CJemalloc",
                "TributaryCore",
                "TributaryKafka",
                "TributaryGit",
                "TributaryWebhooks",
                "TributaryRender",
                "TributaryStage",
                "TributaryPlanner",
                "TributarySync",
                "TributaryNotify",
                "TributaryServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Shared by the test targets: a broker over TCP (embedded, or KAFKA_BROKERS), waiting helpers.
        .target(
            name: "TributaryTestSupport",
            dependencies: [
                "TributaryKafka",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TributaryTestSupport",
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "TributaryKafkaTests",
            dependencies: ["TributaryKafka", "TributaryCore", "TributaryTestSupport"]
        ),
        .testTarget(
            name: "TributaryStageTests",
            dependencies: [
                "TributaryStage",
                "TributaryKafka",
                "TributaryTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "TributaryCoreTests",
            dependencies: ["TributaryKafkaBinding", "TributaryCore", "TributaryKafka", "TributaryTestSupport"]
        ),
        .testTarget(
            name: "TributaryWebhooksTests",
            dependencies: [
                "TributaryKafkaBinding",
                "TributaryWebhooks",
                "TributaryCore",
                "TributaryKafka",
                "TributaryTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "TributaryGitTests",
            dependencies: [
                "TributaryGit",
                "TributaryTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "TributaryNotifyTests",
            dependencies: [
                "TributaryKafkaBinding",
                "TributaryNotify",
                "TributaryCore",
                "TributaryKafka",
                "TributaryTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "TributarySyncTests",
            dependencies: [
                "TributaryKafkaBinding",
                "TributarySource",
                "TributarySync",
                "TributaryPlanner",
                "TributaryRender",
                "TributaryCore",
                "TributaryKafka",
                "TributaryGit",
                "TributaryTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "TributaryKubernetesTests",
            dependencies: ["TributaryKubernetes", "TributaryTestSupport"]
        ),
        .testTarget(
            name: "TributaryServerTests",
            dependencies: [
                "TributaryServer",
                "TributaryKafkaBinding",
                "TributaryCore",
                "TributaryKafka",
                "TributaryTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "TributaryRenderTests",
            dependencies: ["TributaryRender"]
        ),
        .testTarget(
            name: "TributaryCLITests",
            dependencies: [
                "TributaryKafkaBinding", "TributaryCore", "TributaryKafka", "TributaryTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Fuzzing (`scripts/fuzz` sets TRIBUTARY_FUZZ=1 and builds with -sanitize=fuzzer,address): the
// harness becomes a library and `tributary-fuzz` runs its targets under libFuzzer. Otherwise the
// harness is compiled into the tests that replay the committed corpora and crash reproducers.
let fuzzHarnessDependencies: [Target.Dependency] = [
    "TributaryWebhooks", "TributaryCore", "TributaryRender", "TributaryKafka", "TributaryKafkaBinding",
    .product(name: "Hummingbird", package: "hummingbird"),
]
if Context.environment["TRIBUTARY_FUZZ"] == "1" {
    package.targets += [
        .target(name: "TributaryFuzzHarness", dependencies: fuzzHarnessDependencies, path: "Tests/TributaryFuzzTests", sources: ["FuzzHarness.swift"]),
        .target(name: "CFuzzDriver", path: "Tests/Fuzz/Driver"),
        .executableTarget(
            name: "tributary-fuzz", dependencies: ["TributaryFuzzHarness", "CFuzzDriver"], path: "Tests/Fuzz/Entry",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ]
} else {
    package.targets.append(.testTarget(name: "TributaryFuzzTests", dependencies: fuzzHarnessDependencies))
}
