import TributaryCore
import TributaryKafka

extension AppControl {
    /// The control as its `<prefix>.controls` record: plain JSON keyed by app, in the partition every
    /// Kafka client gives that key, so compaction keeps one record per app.
    public func kafkaMessage(topic: String, partitionCount: Int) throws -> KafkaProducerMessage {
        var record = KafkaProducerMessage(topic: topic, key: self.app, value: Array(try TributaryJSON.encode(self)))
        record.partition = KafkaPartitioner.partition(forKey: self.app, partitionCount: partitionCount)
        return record
    }
}
