import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import TributaryCore
import TributaryGit
import TributaryKafka
import TributaryKafkaBinding
import TributaryPlanner
import TributarySource
import TributaryStage
import TributaryTestSupport
@testable import TributarySync

@Suite("Sync worker over Kafka", .timeLimit(.minutes(3)))
struct SyncWorkerTests {
    let fixture: SyncFixture
    let cluster: TestCluster
    let topics: TributaryTopics

    init() async throws {
        self.fixture = try SyncFixture()
        self.cluster = try TestCluster()
        let prefix = "test-\(UUID().uuidString.prefix(8).lowercased())"
        self.topics = TributaryTopics(prefix: prefix)
        for (topic, partitions) in [(self.topics.changes, 6), (self.topics.requests, 6), (self.topics.sync, 3), (self.topics.deadLetters, 1)] {
            if let embedded = self.cluster.embedded {
                try embedded.createTopic(topic, partitions: partitions)
            } else {
                try await KafkaAdministrator(configuration: self.cluster.kafkaConfiguration, logger: self.cluster.logger)
                    .createTopics([topic], partitions: partitions, replicationFactor: -1)
            }
        }
    }

    /// Runs a planner and a worker (and their producer) until `body` returns, then shuts them down gracefully.
    func withPlannerAndWorker(_ configuration: TributaryConfiguration, group: String, _ body: (ConsumerStage, ConsumerStage) async throws -> Void) async throws {
        try await self.withPlanner(configuration, group: "\(group)-planners") { planner in
            try await self.withWorker(configuration, group: group) { worker in try await body(planner, worker) }
        }
    }

    /// Runs a worker (and its producer) until `body` returns, then shuts it down gracefully.
    func withWorker(_ configuration: TributaryConfiguration, group: String, _ body: (ConsumerStage) async throws -> Void) async throws {
        var configuration = configuration
        configuration.kafka.topicPrefix = self.topics.prefix
        let producer = try self.cluster.makeProducer()
        let engine = try self.fixture.engine(configuration)
        var options = SyncWorker.Options()
        options.groupID = group
        options.sessionTimeout = .seconds(3)  // the mock cluster's minimum for quick group formation
        let worker = SyncWorker(topics: self.topics, engine: engine, producer: producer, options: options, logger: self.fixture.logger)
        let stage = worker.makeStage(kafka: self.cluster.kafkaConfiguration)
        try await self.run([producer, stage, worker]) { try await body(stage) }
    }

    /// Runs a planner (and its producer, whose records time out after a second) until `body` returns.
    func withPlanner(_ configuration: TributaryConfiguration, group: String, _ body: (ConsumerStage) async throws -> Void) async throws {
        var configuration = configuration
        configuration.kafka.topicPrefix = self.topics.prefix
        let producer = try self.cluster.makeProducer { $0.messageTimeout = .seconds(1) }
        var options = Planner.Options()
        options.groupID = group
        options.sessionTimeout = .seconds(3)
        let mirrors = GitMirrorCache(directory: self.fixture.git.root.appendingPathComponent("planner-mirrors"), logger: self.fixture.logger)
        let planner = Planner(configuration: configuration, mirrors: mirrors, producer: producer, options: options, logger: self.fixture.logger)
            .makeStage(kafka: self.cluster.kafkaConfiguration)
        try await self.run([producer, planner]) { try await body(planner) }
    }

    private func run(_ services: [any Service], until body: () async throws -> Void) async throws {
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: self.fixture.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body()
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    func publish(_ change: ChangeEvent) async throws -> KafkaDeliveryReport {
        let producer = try self.cluster.makeProducer()
        let report = try await producer.deliver(
            try CloudEvent(source: "test", type: ChangeEvent.eventType, payload: change).kafkaMessage(topic: self.topics.changes, key: change.repository.key)
        )
        await producer.shutdown()
        return report
    }

    /// Collects sync events from the topic in the background.
    final class SyncEvents: Sendable {
        let events = Mutex<[SyncEvent]>([])
        var all: [SyncEvent] { self.events.withLock { $0 } }
    }

    func collectSyncEvents(into sink: SyncEvents) throws -> KafkaConsumer {
        try self.cluster.makeConsumer(group: TestCluster.uniqueGroup("sync-reader"), topics: [self.topics.sync])
    }

    func drain(_ consumer: KafkaConsumer, into sink: SyncEvents) async throws {
        for try await message in consumer.messages {
            let event = try CloudEvent(kafkaMessage: message)
            let sync = try event.decodePayload(as: SyncEvent.self)
            #expect(event.type == SyncEvent.eventType(for: sync.phase))
            #expect(message.keyString == sync.app)
            sink.events.withLock { $0.append(sync) }
        }
    }

    @Test func aChangeOnKafkaSyncsTheTargetPublishesItsEventAndCommitsAfterwards() async throws {
        let commit = try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "1")])
        // The interval is long here, so only the change can cause the sync.
        let configuration = try self.fixture.configuration(apps: [self.fixture.app("shop").replacingOccurrences(of: "interval: 1s", with: "interval: 1h")])
        let group = TestCluster.uniqueGroup("workers")
        let sink = SyncEvents()
        let reader = try self.collectSyncEvents(into: sink)
        var report: KafkaDeliveryReport?
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await self.drain(reader, into: sink) }
            try await self.withPlannerAndWorker(configuration, group: group) { planner, worker in
                try await waitUntil("the planner and the worker to join", timeout: .seconds(90)) { planner.readiness.ready && worker.readiness.ready }
                // The worker reconciles the app it was given at once; let that happen before the change.
                try await waitUntil("the first interval reconcile", timeout: .seconds(90)) {
                    sink.all.contains { $0.app == "shop" && $0.trigger == "interval" }
                }
                report = try await self.publish(self.fixture.change(after: commit, delivery: "delivery-kafka"))
                try await waitUntil("the sync event", timeout: .seconds(90)) {
                    sink.all.contains { $0.app == "shop" && $0.deliveryID == "delivery-kafka" }
                }
            }
            await reader.close()
            try await tasks.waitForAll()
        }
        let event = try #require(sink.all.first { $0.deliveryID == "delivery-kafka" })
        #expect(event.phase == .succeeded || event.phase == .coalesced)
        #expect(self.fixture.read("shop", "configmap_shop_shop.yaml")?.contains("value: \"1\"") == true)
        #expect(sink.all.filter { $0.phase == .succeeded }.count == 1)

        // The change's offset was committed (on close at the latest) after its requests were acknowledged.
        let report_ = try #require(report)
        let inspector = try KafkaConsumer(configuration: KafkaConsumerConfiguration(kafka: self.cluster.kafkaConfiguration, groupID: "\(group)-planners"), logger: self.fixture.logger)
        let committed = try await inspector.committedOffsets(for: [KafkaTopicPartition(topic: self.topics.changes, partition: report_.partition)])
        #expect(committed.first?.offset.rawValue == report_.offset.rawValue + 1)
        await inspector.close()
    }

    @Test func theOwningWorkerSyncsOnItsIntervalAndHealsDrift() async throws {
        try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "1")])
        let configuration = try self.fixture.configuration(apps: [self.fixture.app("shop", selfHeal: true)])
        let sink = SyncEvents()
        let reader = try self.collectSyncEvents(into: sink)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await self.drain(reader, into: sink) }
            try await self.withPlannerAndWorker(configuration, group: TestCluster.uniqueGroup("workers")) { _, _ in
                // No webhook at all: the interval finds the app never synced and syncs it.
                try await waitUntil("the first interval sync", timeout: .seconds(90)) {
                    sink.all.contains { $0.phase == .succeeded && $0.trigger == "interval" }
                }
                let file = "\(self.fixture.targetPath("shop"))/configmap_shop_shop.yaml"
                try Data("hand edited\n".utf8).write(to: URL(fileURLWithPath: file))
                try await waitUntil("self-heal", timeout: .seconds(15)) {
                    sink.all.contains { $0.phase == .healed }
                }
                #expect(self.fixture.read("shop", "configmap_shop_shop.yaml")?.contains("value: \"1\"") == true)
            }
            await reader.close()
            try await tasks.waitForAll()
        }
    }

    @Test(.enabled(if: TestCluster.isEmbedded, "injects a fault through the embedded broker")) func aPlannerStoppedPartWayThroughAFanOutRepublishesAndNothingIsAppliedTwice() async throws {
        let embedded = try #require(self.cluster.embedded, "needs the embedded broker to take a requests partition's leader away")
        let apps = (0..<8).map { "app-\($0)" }
        let first = try self.fixture.git.commit(Dictionary(uniqueKeysWithValues: apps.map { ("apps/\($0)/config.yaml", Optional(SyncFixture.configMap($0, "1"))) }))
        let configuration = try self.fixture.configuration(apps: apps.map { self.fixture.app($0).replacingOccurrences(of: "interval: 1s", with: "interval: 1h") })
        // The requests of `held` go to a partition without a leader, so the first planner's fan-out is cut short.
        let blocked = KafkaPartitioner.partition(forKey: apps[0], partitionCount: 6)
        let held = Set(apps.filter { KafkaPartitioner.partition(forKey: $0, partitionCount: 6) == blocked })
        let plannerGroup = TestCluster.uniqueGroup("planners")
        let sink = SyncEvents()
        let reader = try self.collectSyncEvents(into: sink)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await self.drain(reader, into: sink) }
            try await self.withWorker(configuration, group: TestCluster.uniqueGroup("workers")) { _ in
                try await waitUntil("every app's first sync", timeout: .seconds(90)) {
                    Set(sink.all.filter { $0.phase == .succeeded && $0.revision == first }.map(\.app)) == Set(apps)
                }
                let second = try self.fixture.git.commit(Dictionary(uniqueKeysWithValues: apps.map { ("apps/\($0)/config.yaml", Optional(SyncFixture.configMap($0, "2"))) }))
                func applied(_ app: String) -> [SyncEvent] { sink.all.filter { $0.app == app && $0.revision == second && $0.phase == .succeeded } }
                embedded.setPartitionLeader(topic: self.topics.requests, partition: blocked.rawValue, broker: nil)
                var report: KafkaDeliveryReport?
                try await self.withPlanner(configuration, group: plannerGroup) { planner in
                    try await waitUntil("the first planner to join", timeout: .seconds(90)) { planner.readiness.ready }
                    report = try await self.publish(self.fixture.change(after: second, before: first, delivery: "cut-short"))
                    try await waitUntil("the apps whose requests were published", timeout: .seconds(90)) {
                        apps.filter { !held.contains($0) }.allSatisfy { !applied($0).isEmpty }
                    }
                }
                // The fan-out was not complete, so the change was not committed: the next planner gets it again.
                let inspector = try KafkaConsumer(configuration: KafkaConsumerConfiguration(kafka: self.cluster.kafkaConfiguration, groupID: plannerGroup), logger: self.fixture.logger)
                let change = try #require(report)
                let committed = try await inspector.committedOffsets(for: [KafkaTopicPartition(topic: self.topics.changes, partition: change.partition)])
                await inspector.close()
                #expect((committed.first?.offset.rawValue ?? -1) <= change.offset.rawValue)
                #expect(held.allSatisfy { applied($0).isEmpty })

                embedded.setPartitionLeader(topic: self.topics.requests, partition: blocked.rawValue, broker: 1)
                try await self.withPlanner(configuration, group: plannerGroup) { _ in
                    try await waitUntil("every app at the new revision, the republished requests coalesced", timeout: .seconds(90)) {
                        held.allSatisfy { !applied($0).isEmpty }
                            && apps.filter { !held.contains($0) }.allSatisfy { app in sink.all.contains { $0.app == app && $0.phase == .coalesced && $0.deliveryID == "cut-short" } }
                    }
                }
                for app in apps {
                    #expect(applied(app).count == 1, "\(app) applied once")
                    #expect(self.fixture.read(app, "configmap_shop_\(app).yaml")?.contains("value: \"2\"") == true, "\(app)")
                }
            }
            await reader.close()
            try await tasks.waitForAll()
        }
    }

    @Test func aWorkerFetchesAPushedRepositoryOfAnAppItOwnsBeforeItsRequestArrives() async throws {
        try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "1")])
        var configuration = try self.fixture.configuration(apps: [self.fixture.app("shop").replacingOccurrences(of: "interval: 1s", with: "interval: 1h")])
        configuration.kafka.topicPrefix = self.topics.prefix
        let engine = try self.fixture.engine(configuration)
        let producer = try self.cluster.makeProducer()
        var options = SyncWorker.Options()
        options.groupID = TestCluster.uniqueGroup("workers")
        options.sessionTimeout = .seconds(3)
        let worker = SyncWorker(topics: self.topics, engine: engine, producer: producer, options: options, logger: self.fixture.logger)
        let remote = try GitRemote(url: self.fixture.repoURL, repository: nil)
        // No planner: no request comes, and the app's next interval is an hour away.
        let services: [any Service] = [producer, worker.makeStage(kafka: self.cluster.kafkaConfiguration), worker, worker.makePrefetcher(kafka: self.cluster.kafkaConfiguration)]
        try await self.run(services) {
            try await waitUntil("the worker to own shop and sync it", timeout: .seconds(90)) {
                self.fixture.read("shop", "configmap_shop_shop.yaml")?.contains("value: \"1\"") == true
            }
            // The prefetcher reads from the newest record and may join after an announcement:
            // announce new pushes until one is fetched.
            var fetched = false
            for round in 1...10 where !fetched {
                let commit = try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "\(round + 1)")])
                _ = try await self.publish(self.fixture.change(after: commit, delivery: "prefetch-\(round)"))
                fetched = (try? await waitUntil("the pushed commit in the worker's mirror", timeout: .seconds(5)) {
                    (try? await engine.mirrors.contains(commit: commit, in: remote)) == true
                }) != nil
            }
            #expect(fetched)
            #expect(self.fixture.read("shop", "configmap_shop_shop.yaml")?.contains("value: \"1\"") == true, "fetched, not synced: no request came")
        }
    }
}
