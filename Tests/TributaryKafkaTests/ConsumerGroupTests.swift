import Foundation
import Synchronization
import Testing
import TributaryKafka
import TributaryTestSupport

/// What one group member did, per partition.
final class MemberLog: Sendable {
    private let state = Mutex<(processed: [KafkaPartition: [Int64]], received: [KafkaPartition: [Int64]])>(([:], [:]))

    func record(_ message: KafkaConsumerMessage, processed: Bool) {
        self.state.withLock { state in
            state.received[message.partition, default: []].append(message.offset.rawValue)
            if processed { state.processed[message.partition, default: []].append(message.offset.rawValue) }
        }
    }

    var processed: [KafkaPartition: [Int64]] { self.state.withLock { $0.processed } }
    var received: [KafkaPartition: [Int64]] { self.state.withLock { $0.received } }
}

@Suite("Consumer groups")
struct ConsumerGroupTests {
    @Test(.timeLimit(.minutes(3)))
    func membersSplitPartitionsAndTheSurvivorResumesAtCommittedOffsets() async throws {
        let cluster = try TestCluster()
        let topic = try await cluster.makeTopic("group", partitions: 6)
        let group = TestCluster.uniqueGroup("group")
        let producer = try cluster.makeProducer()
        func publish(_ range: Range<Int>) async throws {
            for index in range {
                _ = try await producer.deliver(KafkaProducerMessage(topic: topic, partition: KafkaPartition(index % 6), value: Array("m\(index)".utf8)))
            }
        }
        let first = try cluster.makeConsumer(group: group, topics: [topic])
        let second = try cluster.makeConsumer(group: group, topics: [topic])
        let firstLog = MemberLog()
        let secondLog = MemberLog()
        let firstTask = Task {
            for try await message in first.messages {
                firstLog.record(message, processed: true)
                try first.storeOffset(message)
            }
        }
        // Members mark messages processed as they go; stored offsets are committed on revocation and close.
        // The second member "crashes mid-work" on offsets 12 and up: it receives them but never marks them processed.
        let secondTask = Task {
            for try await message in second.messages {
                let processed = message.offset.rawValue < 12
                secondLog.record(message, processed: processed)
                if processed { try second.storeOffset(message) }
            }
        }

        try await waitUntil("both members to own three partitions each") {
            try first.assignment().count == 3 && second.assignment().count == 3
        }
        let secondPartitions = Set(try second.assignment().map(\.partition))
        #expect(Set(try first.assignment().map(\.partition)).isDisjoint(with: secondPartitions))
        // Published only once the group has settled: a member that read messages before the second
        // joined would have them redelivered when the embedded broker refuses the commit made during
        // that rebalance — at-least-once allows it, but this test checks the steady state.
        try await publish(0..<60)  // offsets 0...9 on every partition

        try await publish(60..<90)  // offsets 10...14 on every partition
        let firstPartitions = (0..<6).map(KafkaPartition.init).filter { !secondPartitions.contains($0) }
        try await waitUntil("both members to receive everything on their partitions") {
            secondPartitions.allSatisfy { secondLog.received[$0]?.max() == 14 } && firstPartitions.allSatisfy { firstLog.processed[$0]?.max() == 14 }
        }
        // Commit what the first member processed, as a worker does after its work; commits made during
        // a rebalance can fail (and are then retried from stored offsets on revocation).
        try await first.commit()
        secondTask.cancel()
        _ = await secondTask.result
        await second.close()

        try await waitUntil("the first member to own every partition and read the unprocessed messages") {
            try first.assignment().count == 6 && secondPartitions.allSatisfy { firstLog.processed[$0]?.max() == 14 }
        }
        // It resumed exactly where the second member's commits ended: nothing skipped, nothing committed unprocessed.
        for partition in secondPartitions {
            #expect(firstLog.processed[partition] == [12, 13, 14], "partition \(partition)")
            #expect(secondLog.processed[partition] == Array(0...11), "partition \(partition)")
        }
        // The first member's own partitions were not redelivered to it.
        for partition in firstPartitions {
            #expect(firstLog.processed[partition] == Array(0...14), "partition \(partition)")
        }

        try await first.commit()
        let committed = try await first.committedOffsets(for: (0..<6).map { KafkaTopicPartition(topic: topic, partition: KafkaPartition($0)) })
        #expect(committed.map(\.offset) == Array(repeating: KafkaOffset(15), count: 6))

        firstTask.cancel()
        _ = await firstTask.result
        await first.close()
        await producer.shutdown()
    }

    @Test(.timeLimit(.minutes(2)))
    func storedOffsetsAreCommittedOnCloseAndOnlyThose() async throws {
        let cluster = try TestCluster()
        let topic = try await cluster.makeTopic("store", partitions: 1)
        let group = TestCluster.uniqueGroup("store")
        let producer = try cluster.makeProducer()
        for index in 0..<5 {
            _ = try await producer.deliver(KafkaProducerMessage(topic: topic, value: [UInt8(index)]))
        }
        let consumer = try cluster.makeConsumer(group: group, topics: [topic])
        var iterator = consumer.messages.makeAsyncIterator()
        for _ in 0..<3 {
            let message = try #require(try await iterator.next())
            try consumer.storeOffset(message)
        }
        _ = try await iterator.next()  // read, never processed
        await consumer.close()

        let reader = try cluster.makeConsumer(group: group, topics: [topic])
        var readerIterator = reader.messages.makeAsyncIterator()
        let next = try #require(try await readerIterator.next())
        #expect(next.offset == KafkaOffset(3))
        await reader.close()
        await producer.shutdown()
    }
}
