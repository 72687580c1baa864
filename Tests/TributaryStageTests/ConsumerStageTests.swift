import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import TributaryKafka
import TributaryStage
import TributaryTestSupport

/// The stage against a broker over TCP: commits follow acknowledged output, keys of a partition
/// run in parallel, and an unwritable dead-letter topic holds its partition.
@Suite("Consumer stage over Kafka", .timeLimit(.minutes(3)))
struct ConsumerStageTests {
    let cluster: TestCluster

    init() throws {
        self.cluster = try TestCluster()
    }

    func committed(group: String, topic: String, partition: Int = 0) async throws -> Int64 {
        let inspector = try KafkaConsumer(configuration: KafkaConsumerConfiguration(kafka: self.cluster.kafkaConfiguration, groupID: group), logger: self.cluster.logger)
        defer { Task { await inspector.close() } }
        return try await inspector.committedOffsets(for: [KafkaTopicPartition(topic: topic, partition: KafkaPartition(partition))]).first?.offset.rawValue ?? -1
    }

    func run(_ stage: ConsumerStage, producer: KafkaProducer, _ body: () async throws -> Void) async throws {
        let services = ServiceGroup(configuration: .init(services: [.init(service: producer), .init(service: stage)], logger: self.cluster.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await services.run() }
            do { try await body() } catch {
                await services.triggerGracefulShutdown()
                throw error
            }
            await services.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test(.enabled(if: TestCluster.isEmbedded, "injects a fault through the embedded broker")) func aDeadLetterTheBrokerRefusesIsRetriedAndHoldsTheOffsetUntilWritten() async throws {
        let embedded = try #require(self.cluster.embedded, "needs the embedded broker to take the dead-letter partition's leader away")
        let source = try await self.cluster.makeTopic("source", partitions: 1)
        let deadLetters = try await self.cluster.makeTopic("dlq", partitions: 1)
        let output = try await self.cluster.makeTopic("output", partitions: 1)
        let group = TestCluster.uniqueGroup("stage")
        let producer = try self.cluster.makeProducer { $0.messageTimeout = .seconds(1) }
        var options = ConsumerStage.Options(name: "test", groupID: group, topics: [source], deadLetterTopic: deadLetters)
        options.sessionTimeout = .seconds(3)
        options.commitInterval = .milliseconds(200)
        let stage = ConsumerStage(options: options, kafka: self.cluster.kafkaConfiguration, producer: producer, logger: self.cluster.logger) { message, _ in
            message.keyString == "poison" ? .deadLetter(reason: "cannot be handled") : .done([KafkaProducerMessage(topic: output, key: message.keyString, value: message.value)])
        }
        let writer = try self.cluster.makeProducer()
        try await self.run(stage, producer: producer) {
            _ = try await writer.deliver(KafkaProducerMessage(topic: source, key: "good", value: Array("0".utf8)))
            try await waitUntil("the first message committed", timeout: .seconds(30)) { try await self.committed(group: group, topic: source) == 1 }

            embedded.setPartitionLeader(topic: deadLetters, partition: 0, broker: nil)
            _ = try await writer.deliver(KafkaProducerMessage(topic: source, key: "poison", value: Array("1".utf8)))
            _ = try await writer.deliver(KafkaProducerMessage(topic: source, key: "good", value: Array("2".utf8)))
            try await waitUntil("two failed dead-letter writes", timeout: .seconds(30)) { stage.metrics.count(.deadLetterWriteFailed) >= 2 }
            #expect(!stage.readiness.ready)
            #expect(stage.readiness.reason.contains("dead letter not written"))
            #expect(stage.renderMetrics().contains("tributary_stage_stalled_partitions{stage=\"test\"} 1"))
            // The message after the poison one was handled meanwhile (another key), yet nothing is committed past the poison one.
            try await waitUntil("the later message handled", timeout: .seconds(30)) { stage.metrics.count(.handled) >= 2 }
            // Its output acknowledged (it is on the output topic), so it is finished: only the poison one holds the partition.
            let outputReader = try self.cluster.makeConsumer(group: TestCluster.uniqueGroup("output-reader"), topics: [output])
            for try await record in outputReader.messages where record.value == Array("2".utf8) { break }
            await outputReader.close()
            try await self.waitForCommitPasses(of: stage)
            #expect(try await self.committed(group: group, topic: source) == 1)

            embedded.setPartitionLeader(topic: deadLetters, partition: 0, broker: 1)
            try await waitUntil("the dead letter written and everything committed", timeout: .seconds(30)) {
                try await self.committed(group: group, topic: source) == 3
            }
            #expect(stage.readiness.ready)
        }
        await writer.shutdown()
        // The dead letter carries the original record and the reason.
        let reader = try self.cluster.makeConsumer(group: TestCluster.uniqueGroup("dlq-reader"), topics: [deadLetters])
        var letter: KafkaConsumerMessage?
        for try await message in reader.messages {
            letter = message
            break
        }
        await reader.close()
        #expect(letter?.keyString == "poison")
        #expect(letter?.headers.first(named: "tributary_dlq_reason") == "cannot be handled")
        #expect(letter?.headers.first(named: "tributary_dlq_source") == "\(source)/0/1")
    }

    @Test func keysOfOnePartitionRunInParallelAndEachKeyInOrder() async throws {
        let source = try await self.cluster.makeTopic("keys", partitions: 1)
        let deadLetters = try await self.cluster.makeTopic("dlq", partitions: 1)
        let group = TestCluster.uniqueGroup("stage")
        let producer = try self.cluster.makeProducer()
        var options = ConsumerStage.Options(name: "test", groupID: group, topics: [source], deadLetterTopic: deadLetters)
        options.sessionTimeout = .seconds(3)
        options.commitInterval = .milliseconds(200)
        let seen = Mutex<[String: [Int]]>([:])
        let slowStarted = Mutex(false)
        let releaseSlow = Mutex(false)
        let stage = ConsumerStage(options: options, kafka: self.cluster.kafkaConfiguration, producer: producer, logger: self.cluster.logger) { message, _ in
            let key = message.keyString ?? ""
            let value = Int(String(decoding: message.value ?? [], as: UTF8.self)) ?? -1
            if key == "slow" {
                slowStarted.withLock { $0 = true }
                // Cancelled (the test failed and the stage stops): Task.sleep would throw at once, and spin.
                while !releaseSlow.withLock({ $0 }), !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
            }
            seen.withLock { $0[key, default: []].append(value) }
            return .done([])
        }
        let writer = try self.cluster.makeProducer()
        try await self.run(stage, producer: producer) {
            _ = try await writer.deliver(KafkaProducerMessage(topic: source, key: "slow", value: Array("0".utf8)))
            for value in 1...20 {
                _ = try await writer.deliver(KafkaProducerMessage(topic: source, key: value % 2 == 0 ? "a" : "b", value: Array("\(value)".utf8)))
            }
            // While the slow key's message runs, the other keys behind it in the partition finish...
            try await waitUntil("the other keys handled", timeout: .seconds(30)) { seen.withLock { ($0["a"]?.count ?? 0) + ($0["b"]?.count ?? 0) } == 20 }
            #expect(slowStarted.withLock { $0 })
            try await self.waitForCommitPasses(of: stage)
            // ...but the partition is not committed past the slow one.
            #expect(try await self.committed(group: group, topic: source) < 1)
            // The lag counts from the committed offset: all 21 are behind while the first is held.
            try await waitUntil("the lag gauge at 21", timeout: .seconds(30)) { stage.renderMetrics().contains("tributary_consumer_lag{group=\"\(group)\",topic=\"\(source)\"} 21") }
            releaseSlow.withLock { $0 = true }
            try await waitUntil("everything committed", timeout: .seconds(30)) { try await self.committed(group: group, topic: source) == 21 }
            try await waitUntil("the lag gauge at 0", timeout: .seconds(30)) { stage.renderMetrics().contains("tributary_consumer_lag{group=\"\(group)\",topic=\"\(source)\"} 0") }
        }
        await writer.shutdown()
        let order = seen.withLock { $0 }
        #expect(order["a"] == Array(stride(from: 2, through: 20, by: 2)))
        #expect(order["b"] == Array(stride(from: 1, through: 19, by: 2)))
    }

    /// Waits for two more passes of the stage's commit loop, so one began after the caller's last
    /// observation: whatever was committable then has been committed.
    func waitForCommitPasses(of stage: ConsumerStage) async throws {
        let rounds = stage.metrics.commitRoundCount
        try await waitUntil("two more commit passes", timeout: .seconds(30)) { stage.metrics.commitRoundCount >= rounds + 2 }
    }
}
