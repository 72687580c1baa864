import struct Foundation.Date

/// A record read from a topic. All bytes are copied out of librdkafka's memory.
public struct KafkaConsumerMessage: Hashable, Sendable {
    public var topic: String
    public var partition: KafkaPartition
    public var offset: KafkaOffset
    public var key: [UInt8]?
    /// `nil` for a tombstone.
    public var value: [UInt8]?
    public var headers: [KafkaHeader]
    /// The record's timestamp (create time or log-append time), when the broker reported one.
    public var timestamp: Date?
    /// Which assignment of its partition delivered it (see `KafkaConsumer/isCurrent(_:)`); 0 for
    /// messages not read by a `KafkaConsumer`.
    public var assignmentGeneration: UInt64 = 0

    public init(
        topic: String,
        partition: KafkaPartition,
        offset: KafkaOffset,
        key: [UInt8]?,
        value: [UInt8]?,
        headers: [KafkaHeader],
        timestamp: Date?
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    /// The key decoded as UTF-8.
    public var keyString: String? { self.key.map { String(decoding: $0, as: UTF8.self) } }

    /// This message's partition, with the offset a commit should record (the next one to read).
    public var nextPosition: KafkaTopicPartition {
        KafkaTopicPartition(topic: self.topic, partition: self.partition, offset: KafkaOffset(rawValue: self.offset.rawValue + 1))
    }
}
