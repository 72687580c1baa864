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
