/// A record to publish.
public struct KafkaProducerMessage: Hashable, Sendable {
    public var topic: String
    /// The partition; `.unassigned` lets the partitioner choose from the key.
    public var partition: KafkaPartition
    public var key: [UInt8]?
    /// The value; `nil` publishes a tombstone (for compacted topics).
    public var value: [UInt8]?
    public var headers: [KafkaHeader]

    public init(
        topic: String,
        partition: KafkaPartition = .unassigned,
        key: [UInt8]? = nil,
        value: [UInt8]?,
        headers: [KafkaHeader] = []
    ) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
    }

    public init(
        topic: String,
        partition: KafkaPartition = .unassigned,
        key: String?,
        value: [UInt8]?,
        headers: [KafkaHeader] = []
    ) {
        self.init(topic: topic, partition: partition, key: key.map { Array($0.utf8) }, value: value, headers: headers)
    }
}

/// Identifies a message handed to `KafkaProducer/send(_:)` until its delivery report arrives.
public struct KafkaProducerMessageID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { String(self.rawValue) }
}

/// What the broker acknowledged for a message: where it was stored.
public struct KafkaDeliveryReport: Hashable, Sendable {
    public var id: KafkaProducerMessageID
    public var topic: String
    public var partition: KafkaPartition
    public var offset: KafkaOffset

    public init(id: KafkaProducerMessageID, topic: String, partition: KafkaPartition, offset: KafkaOffset) {
        self.id = id
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}
