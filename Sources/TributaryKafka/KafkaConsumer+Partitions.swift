import ServiceLifecycle
import Synchronization

extension KafkaConsumer {
    /// Processes messages with one task per partition: in order within a partition, partitions in
    /// parallel, so a slow record holds up only its own partition.
    ///
    /// Returns on graceful shutdown once the messages being processed are done. Messages read but
    /// not yet started are dropped uncommitted; the group reads them again after a restart.
    public func forEachMessageByPartition(_ process: @escaping @Sendable (KafkaConsumerMessage) async -> Void) async throws {
        let stopping = StopFlag()
        try await withThrowingTaskGroup(of: Void.self) { group in
            var partitions: [KafkaTopicPartition: AsyncStream<KafkaConsumerMessage>.Continuation] = [:]
            defer { partitions.values.forEach { $0.finish() } }
            for try await message in self.messages.cancelOnGracefulShutdown() {
                let key = KafkaTopicPartition(topic: message.topic, partition: message.partition)
                if partitions[key] == nil {
                    let (stream, continuation) = AsyncStream.makeStream(of: KafkaConsumerMessage.self)
                    partitions[key] = continuation
                    group.addTask {
                        for await message in stream {
                            if stopping.isSet { break }
                            await process(message)
                        }
                    }
                }
                partitions[key]?.yield(message)
            }
            stopping.set()
            partitions.values.forEach { $0.finish() }
            try await group.waitForAll()
        }
    }
}

/// Keeps a consumer from committing past a message it skipped because its partition was briefly
/// revoked: after a quick revoke-and-reassign, messages buffered from before can still arrive
/// ahead of the skipped one's redelivery. Offsets past a skipped message are not stored until
/// that message comes again and is processed.
public final class KafkaSkippedOffsets: Sendable {
    private let skipped = Mutex<[KafkaTopicPartition: KafkaOffset]>([:])

    public init() {}

    /// Records that `message` was left unprocessed.
    public func skip(_ message: KafkaConsumerMessage) {
        let key = KafkaTopicPartition(topic: message.topic, partition: message.partition)
        self.skipped.withLock { skipped in
            skipped[key] = min(skipped[key] ?? message.offset, message.offset)
        }
    }

    /// Drops marks the group has committed past (another member processed those messages): call
    /// with the committed offsets of newly assigned partitions.
    public func forget(committed positions: [KafkaTopicPartition]) {
        self.skipped.withLock { skipped in
            for position in positions where position.offset.rawValue >= 0 {
                let key = KafkaTopicPartition(topic: position.topic, partition: position.partition)
                if let mark = skipped[key], mark < position.offset { skipped[key] = nil }
            }
        }
    }

    /// Whether `message`'s offset may be stored now that it is processed; clears the mark when it
    /// is the skipped message itself (or an earlier one).
    public func mayStore(_ message: KafkaConsumerMessage) -> Bool {
        let key = KafkaTopicPartition(topic: message.topic, partition: message.partition)
        return self.skipped.withLock { skipped in
            guard let first = skipped[key] else { return true }
            if message.offset <= first {
                skipped[key] = nil
                return true
            }
            return false
        }
    }
}
