/// A partition number of a topic.
public struct KafkaPartition: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }
    public init(_ value: Int) { self.rawValue = Int32(value) }

    /// Let the partitioner choose from the key (murmur2, as the Java client, by default; see `KafkaPartitioner`).
    public static let unassigned = KafkaPartition(rawValue: -1)

    public var description: String { String(self.rawValue) }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// An offset within a partition.
public struct KafkaOffset: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int64

    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ value: Int) { self.rawValue = Int64(value) }

    /// The first offset still held by the partition.
    public static let beginning = KafkaOffset(rawValue: -2)
    /// The offset after the last message.
    public static let end = KafkaOffset(rawValue: -1)
    /// No committed offset exists.
    public static let invalid = KafkaOffset(rawValue: -1001)

    public var description: String {
        switch self {
        case .beginning: "beginning"
        case .end: "end"
        case .invalid: "invalid"
        default: String(self.rawValue)
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One partition of one topic, optionally with an offset (a committed position, for example).
public struct KafkaTopicPartition: Hashable, Sendable, CustomStringConvertible {
    public var topic: String
    public var partition: KafkaPartition
    public var offset: KafkaOffset

    public init(topic: String, partition: KafkaPartition, offset: KafkaOffset = .invalid) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }

    public var description: String {
        self.offset == .invalid ? "\(self.topic)[\(self.partition)]" : "\(self.topic)[\(self.partition)]@\(self.offset)"
    }
}
