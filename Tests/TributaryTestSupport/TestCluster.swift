import Foundation
import Logging
import TributaryKafka

/// A Kafka cluster for tests, reached over TCP: the embedded mock cluster, or the real cluster named
/// by `KAFKA_BROKERS` (whose topics are then created through the admin API).
public final class TestCluster: Sendable {
    public let bootstrapServers: String
    /// Present when the cluster is embedded; failure tests need it.
    public let embedded: EmbeddedKafkaBroker?
    public let logger: Logger

    /// Whether tests run on the embedded broker (KAFKA_BROKERS unset): the only one whose faults a
    /// test can inject. Tests that take brokers down or leaders away are enabled on it only.
    public static var isEmbedded: Bool { (ProcessInfo.processInfo.environment["KAFKA_BROKERS"] ?? "").isEmpty }

    public init() throws {
        var logger = Logger(label: "tributary.tests")
        logger.logLevel = ProcessInfo.processInfo.environment["TRIBUTARY_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        self.logger = logger
        if let brokers = ProcessInfo.processInfo.environment["KAFKA_BROKERS"], !brokers.isEmpty {
            self.bootstrapServers = brokers
            self.embedded = nil
        } else {
            let broker = try EmbeddedKafkaBroker(logger: logger)
            self.bootstrapServers = broker.bootstrapServers
            self.embedded = broker
        }
    }

    /// Creates a topic with a unique name and returns the name.
    public func makeTopic(_ label: String, partitions: Int = 6) async throws -> String {
        let name = "test.\(label).\(UUID().uuidString.prefix(8).lowercased())"
        if let embedded {
            try embedded.createTopic(name, partitions: partitions)
        } else {
            try await KafkaAdministrator(configuration: self.kafkaConfiguration, logger: self.logger)
                .createTopics([name], partitions: partitions, replicationFactor: -1)
        }
        return name
    }

    public var kafkaConfiguration: KafkaConfiguration {
        KafkaConfiguration(bootstrapServers: self.bootstrapServers)
    }

    public func makeProducer(_ adjust: (inout KafkaProducerConfiguration) -> Void = { _ in }) throws -> KafkaProducer {
        var configuration = KafkaProducerConfiguration(kafka: self.kafkaConfiguration)
        adjust(&configuration)
        return try KafkaProducer(configuration: configuration, logger: self.logger)
    }

    /// A group member with the timings the mock cluster needs to form groups quickly
    /// (`session.timeout.ms=3000` — 2000 never forms a group there — and 200 ms heartbeats).
    public func makeConsumer(group: String, topics: [String]) throws -> KafkaConsumer {
        var configuration = KafkaConsumerConfiguration(kafka: self.kafkaConfiguration, groupID: group)
        configuration.sessionTimeout = .seconds(3)
        configuration.heartbeatInterval = .milliseconds(200)
        let consumer = try KafkaConsumer(configuration: configuration, logger: self.logger)
        try consumer.subscribe(topics: topics)
        return consumer
    }

    public static func uniqueGroup(_ label: String) -> String {
        "test-\(label)-\(UUID().uuidString.prefix(8).lowercased())"
    }
}

/// Waits until `condition` holds, checking every 50 ms.
///
/// - Throws: `WaitTimedOut` with `what` after `timeout`.
public func waitUntil(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw WaitTimedOut(what: what)
}

public struct WaitTimedOut: Error, CustomStringConvertible {
    public var what: String
    public var description: String { "timed out waiting for \(self.what)" }
}

/// Whether consumer group `group` has committed every record now in `topic`: each partition's
/// committed offset has reached its end. Once true (and nothing more is published), the group's
/// members have handled everything and nothing of `topic` will be handled again.
public func hasCommittedAll(_ kafka: KafkaConfiguration, group: String, topic: String, logger: Logger = Logger(label: "test")) async throws -> Bool {
    let inspector = try KafkaConsumer(configuration: KafkaConsumerConfiguration(kafka: kafka, groupID: group), logger: logger)
    func check() async throws -> Bool {
        guard let count = try await inspector.partitionCounts(timeout: .seconds(10))[topic] else { return false }
        let partitions = (0..<count).map { KafkaTopicPartition(topic: topic, partition: KafkaPartition($0)) }
        let committed = try await inspector.committedOffsets(for: partitions)
        for partition in partitions {
            let end = try await inspector.watermarks(topic: topic, partition: partition.partition).high.rawValue
            let offset = committed.first { $0.partition == partition.partition }?.offset.rawValue ?? -1
            if end > 0 && offset < end { return false }
        }
        return true
    }
    do {
        let result = try await check()
        await inspector.close()
        return result
    } catch {
        await inspector.close()
        throw error
    }
}
