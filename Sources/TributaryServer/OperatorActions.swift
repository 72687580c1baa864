import Foundation
import Logging
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding

/// What an operator may do through the API, published to Kafka as the CLI does: a sync request
/// for the owning worker, or an app control.
public struct OperatorActions: Sendable {
    let producer: KafkaProducer
    let topics: TributaryTopics
    let source: String

    public init(producer: KafkaProducer, topics: TributaryTopics, source: String) {
        self.producer = producer
        self.topics = topics
        self.source = source
    }

    /// Publishes a manual sync request; returns its id (the resulting sync event's `changeID`).
    func sync(_ app: AppSettings, revision: String?, prune: Bool, dryRun: Bool) async throws -> String {
        let topic = self.topics.requests(cluster: app.cluster)
        guard let partitionCount = try await self.producer.partitionCounts(timeout: .seconds(10))[topic] else {
            throw KafkaError(code: .unknownTopicOrPartition, message: "topic \(topic) does not exist")
        }
        let id = UUID().uuidString.lowercased()
        let request = SyncRequest.manual(for: app, revision: revision, prune: prune, dryRun: dryRun, partitionCount: partitionCount, id: id)
        let event = try CloudEvent(id: id, source: self.source, type: SyncRequest.eventType, subject: app.name, payload: request)
        var record = event.kafkaMessage(topic: topic, key: app.name)
        record.partition = KafkaPartitioner.partition(forKey: app.name, partitionCount: partitionCount)
        _ = try await self.producer.deliver(record)
        return id
    }

    func control(_ control: AppControl) async throws {
        let topic = self.topics.controls
        guard let partitionCount = try await self.producer.partitionCounts(timeout: .seconds(10))[topic] else {
            throw KafkaError(code: .unknownTopicOrPartition, message: "topic \(topic) does not exist")
        }
        _ = try await self.producer.deliver(try control.kafkaMessage(topic: topic, partitionCount: partitionCount))
    }
}
