import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import TributaryCore
import TributaryGit
import TributaryKafka
import TributaryPlanner
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
    func withWorker(_ configuration: TributaryConfiguration, group: String, _ body: (ConsumerStage, ConsumerStage) async throws -> Void) async throws {
        var configuration = configuration
        configuration.kafka.topicPrefix = self.topics.prefix
        let producer = try self.cluster.makeProducer()
        let engine = try self.fixture.engine(configuration)
        var plannerOptions = Planner.Options()
        plannerOptions.groupID = "\(group)-planners"
        plannerOptions.sessionTimeout = .seconds(3)
        let mirrors = GitMirrorCache(directory: self.fixture.git.root.appendingPathComponent("planner-mirrors"), logger: self.fixture.logger)
        let planner = Planner(configuration: configuration, mirrors: mirrors, producer: producer, options: plannerOptions, logger: self.fixture.logger)
            .makeStage(kafka: self.cluster.kafkaConfiguration)
        var options = SyncWorker.Options()
        options.groupID = group
        options.sessionTimeout = .seconds(3)  // the mock cluster's minimum for quick group formation
        let worker = SyncWorker(topics: self.topics, engine: engine, producer: producer, options: options, logger: self.fixture.logger)
        let stage = worker.makeStage(kafka: self.cluster.kafkaConfiguration)
        let services = ServiceGroup(configuration: .init(
            services: [.init(service: producer), .init(service: planner), .init(service: stage), .init(service: worker)], logger: self.fixture.logger
        ))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await services.run() }
            do {
                try await body(planner, stage)
            } catch {
                await services.triggerGracefulShutdown()
                throw error
            }
            await services.triggerGracefulShutdown()
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
            try await self.withWorker(configuration, group: group) { planner, worker in
                try await waitUntil("the planner and the worker to join", timeout: .seconds(30)) { planner.readiness.ready && worker.readiness.ready }
                // The first interval tick may sync before the change arrives; wait for it to settle.
                try await Task.sleep(for: .milliseconds(500))
                report = try await self.publish(self.fixture.change(after: commit, delivery: "delivery-kafka"))
                try await waitUntil("the sync event", timeout: .seconds(30)) {
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
            try await self.withWorker(configuration, group: TestCluster.uniqueGroup("workers")) { _, _ in
                // No webhook at all: the interval finds the app never synced and syncs it.
                try await waitUntil("the first interval sync", timeout: .seconds(30)) {
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
}
