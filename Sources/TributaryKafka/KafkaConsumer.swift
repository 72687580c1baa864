import CRdKafka
import Dispatch
import Foundation
import Logging
import Synchronization

/// A change in which partitions this group member owns.
public enum KafkaConsumerEvent: Hashable, Sendable {
    /// These partitions are now this member's; messages from them follow.
    case partitionsAssigned([KafkaTopicPartition])
    /// These partitions were taken away. Offsets stored for them were committed first; work still in
    /// flight for them should be dropped — its messages go to the new owner.
    case partitionsRevoked([KafkaTopicPartition])
}

/// A member of a Kafka consumer group.
///
/// Offsets are committed only for messages the caller marked processed (`storeOffset(_:)` or
/// `commit(_:)`); on revocation and on `close()` the stored offsets are committed before the
/// partitions go. Delivery is therefore at-least-once: a message whose processing was cut short is
/// read again, by this member or another.
public final class KafkaConsumer: Sendable {
    private let client: RDKafkaClient
    private let context: ConsumerContext
    private let logger: Logger
    private let isClosed = StopFlag()
    /// Serves `rd_kafka_consumer_poll`, where rebalance callbacks also run.
    private let pollQueue = DispatchQueue(label: "tributary.kafka.consumer.poll")
    /// Serves blocking commits and metadata requests, so they don't wait behind a poll.
    private let blockingQueue = DispatchQueue(label: "tributary.kafka.consumer.blocking")
    /// Messages polled in a batch and not yet returned by `messages`, last first (so `popLast` is next).
    private let buffered = Mutex<[KafkaConsumerMessage]>([])
    static let pollBatch = 256

    /// Assignment changes, in order. Buffered: reading it is optional.
    public let events: AsyncStream<KafkaConsumerEvent>

    /// The messages of the subscribed topics, in partition order. Iterate it from one task.
    public var messages: KafkaConsumerMessages { KafkaConsumerMessages(consumer: self) }

    /// Creates a group member; it joins the group once `subscribe(topics:)` is called and messages are read.
    ///
    /// - Throws: `KafkaError.configuration` when librdkafka rejects a property.
    public init(configuration: KafkaConsumerConfiguration, logger: Logger) throws {
        let (events, continuation) = AsyncStream<KafkaConsumerEvent>.makeStream()
        self.events = events
        self.logger = logger
        self.context = ConsumerContext(logger: logger, events: continuation)
        self.client = try RDKafkaClient(
            type: RD_KAFKA_CONSUMER,
            properties: configuration.properties,
            context: self.context,
            configure: { conf in rd_kafka_conf_set_rebalance_cb(conf, rebalanceCallback) }
        )
        // Route the main queue (logs, errors) to the consumer queue so one poll serves everything.
        rd_kafka_poll_set_consumer(self.client.handle)
    }

    deinit {
        self.context.events.finish()
    }

    /// Joins the group for these topics (replacing any earlier subscription).
    ///
    /// - Throws: `KafkaError` when the subscription is rejected.
    public func subscribe(topics: [String]) throws {
        guard !self.isClosed.isSet else { throw KafkaError.shutDown() }
        let error = KafkaTopicPartition.withPartitionList(
            topics.map { KafkaTopicPartition(topic: $0, partition: .unassigned) }
        ) { rd_kafka_subscribe(self.client.handle, $0) }
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(rdKafka: error, context: "cannot subscribe to \(topics.joined(separator: ","))")
        }
    }

    /// Marks a message processed: its offset will be committed by the next commit, revocation or close.
    ///
    /// Store in order within a partition: a stored offset replaces the previous one.
    /// - Throws: `KafkaError` when the partition is no longer assigned to this member.
    public func storeOffset(_ message: KafkaConsumerMessage) throws {
        try self.store([message.nextPosition])
    }

    /// Commits every stored offset and waits for the broker's answer.
    ///
    /// - Throws: `KafkaError` (`rebalanceInProgress` is retriable: the offsets stay stored).
    public func commit() async throws {
        guard !self.isClosed.isSet else { throw KafkaError.shutDown() }
        let client = self.client
        try await self.blockingQueue.run { try commitStored(client.handle) }
    }

    /// Marks `message` processed and commits its offset, waiting for the broker's answer.
    ///
    /// - Throws: `KafkaError` when storing or committing fails.
    public func commit(_ message: KafkaConsumerMessage) async throws {
        let position = message.nextPosition
        // Store too, so that a later commit of stored offsets cannot move this partition back.
        try self.store([position])
        let client = self.client
        try await self.blockingQueue.run {
            let error = KafkaTopicPartition.withPartitionList([position]) { rd_kafka_commit(client.handle, $0, 0) }
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(rdKafka: error, context: "cannot commit \(position)")
            }
        }
    }

    /// The group's committed offsets for these partitions (`.invalid` where none is committed).
    ///
    /// - Throws: `KafkaError` when the coordinator does not answer within `timeout`.
    public func committedOffsets(for partitions: [KafkaTopicPartition], timeout: Duration = .seconds(10)) async throws -> [KafkaTopicPartition] {
        let client = self.client
        return try await self.blockingQueue.run {
            try KafkaTopicPartition.withPartitionList(partitions) { list in
                let error = rd_kafka_committed(client.handle, list, Int32(clamping: timeout.milliseconds))
                guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError(rdKafka: error, context: "cannot read committed offsets")
                }
                return KafkaTopicPartition.array(from: list)
            }
        }
    }

    /// Reads `partitions` from their given offsets (`.beginning`, say) without group management: for
    /// a consumer that rebuilds state from a topic rather than sharing work. Do not also subscribe.
    ///
    /// - Throws: `KafkaError` when librdkafka rejects the assignment.
    public func assign(_ partitions: [KafkaTopicPartition]) throws {
        guard !self.isClosed.isSet else { throw KafkaError.shutDown() }
        let error = KafkaTopicPartition.withPartitionList(partitions) { rd_kafka_assign(self.client.handle, $0) }
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(rdKafka: error, context: "cannot assign partitions") }
    }

    /// The first offset still held and the offset the next message will get.
    ///
    /// - Throws: `KafkaError` when the partition leader does not answer within `timeout`.
    public func watermarks(topic: String, partition: KafkaPartition, timeout: Duration = .seconds(10)) async throws -> (low: KafkaOffset, high: KafkaOffset) {
        let client = self.client
        return try await self.blockingQueue.run {
            var low: Int64 = 0
            var high: Int64 = 0
            let error = rd_kafka_query_watermark_offsets(client.handle, topic, partition.rawValue, &low, &high, Int32(clamping: timeout.milliseconds))
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(rdKafka: error, context: "cannot read the offsets of \(topic)/\(partition)") }
            return (KafkaOffset(rawValue: low), KafkaOffset(rawValue: high))
        }
    }

    /// Records not yet consumed-and-committed, summed per topic over this member's assignment: the
    /// high watermark librdkafka last saw in a fetch (no request is made for it) minus the group's
    /// committed offset (`committed: true`, a request to the coordinator) or this member's position.
    /// Partitions whose high watermark is not known yet are left out.
    public func lag(committed: Bool, timeout: Duration = .seconds(2)) async throws -> [String: Int64] {
        let assignment = try self.assignment()
        guard !assignment.isEmpty else { return [:] }
        let client = self.client
        return try await self.blockingQueue.run {
            try KafkaTopicPartition.withPartitionList(assignment) { list in
                let error = committed ? rd_kafka_committed(client.handle, list, Int32(clamping: timeout.milliseconds)) : rd_kafka_position(client.handle, list)
                guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(rdKafka: error, context: "cannot read consumer offsets") }
                var lag: [String: Int64] = [:]
                for entry in KafkaTopicPartition.array(from: list) {
                    var low: Int64 = 0
                    var high: Int64 = 0
                    guard rd_kafka_get_watermark_offsets(client.handle, entry.topic, entry.partition.rawValue, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { continue }
                    // Nothing committed or consumed yet: everything still held is behind.
                    // Nothing committed or consumed yet: everything still held is behind. An offset below
                    // the low watermark (retention removed records) counts from there.
                    let floor = max(low, 0)
                    let at = max(entry.offset.rawValue >= 0 ? entry.offset.rawValue : floor, floor)
                    lag[entry.topic, default: 0] += max(0, high - at)
                }
                return lag
            }
        }
    }

    /// Whether `partition` of `topic` is assigned to this member right now. Messages are returned
    /// only after the assignment that brought their partition, so this is true for every message
    /// until its partition is revoked.
    public func isAssigned(topic: String, partition: KafkaPartition) -> Bool {
        ((try? self.assignment()) ?? []).contains { $0.topic == topic && $0.partition == partition }
    }

    /// Whether `message` came from this member's current assignment of its partition: false once
    /// the partition was revoked, even if it was assigned again since (its messages are then read
    /// again from the committed offset, so work on the old copy must not be committed).
    public func isCurrent(_ message: KafkaConsumerMessage) -> Bool {
        message.assignmentGeneration != 0
            && self.context.generation(of: KafkaTopicPartition(topic: message.topic, partition: message.partition)) == message.assignmentGeneration
    }

    /// The partitions currently assigned to this member.
    public func assignment() throws -> [KafkaTopicPartition] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        let error = rd_kafka_assignment(self.client.handle, &list)
        defer { if let list { rd_kafka_topic_partition_list_destroy(list) } }
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(rdKafka: error, context: "cannot read assignment") }
        return KafkaTopicPartition.array(from: list)
    }

    /// The topics and their partition counts as the cluster reports them.
    public func partitionCounts(timeout: Duration) async throws -> [String: Int] {
        try await fetchPartitionCounts(client: self.client, queue: self.blockingQueue, timeout: timeout)
    }

    /// Commits stored offsets, leaves the group (so its partitions move at once rather than after the
    /// session timeout) and ends `messages`. Safe to call more than once.
    public func close() async {
        guard self.isClosed.setIfUnset() else { return }
        self.buffered.withLock { $0 = [] }
        let client = self.client
        let logger = self.logger
        // On the poll queue: it runs once the current poll returns (within 100 ms), and the rebalance
        // callback that close triggers runs on the same serial queue as every other.
        await self.pollQueue.run {
            do {
                try commitStored(client.handle)
            } catch {
                logger.warning("Kafka consumer could not commit on close", metadata: ["error": "\(error)"])
            }
            let error = rd_kafka_consumer_close(client.handle)
            if error != RD_KAFKA_RESP_ERR_NO_ERROR {
                logger.warning("Kafka consumer close failed", metadata: ["error": "\(KafkaError(rdKafka: error))"])
            }
        }
        self.context.events.finish()
    }

    private func store(_ positions: [KafkaTopicPartition]) throws {
        guard !self.isClosed.isSet else { throw KafkaError.shutDown() }
        try KafkaTopicPartition.withPartitionList(positions) { list in
            let error = rd_kafka_offsets_store(self.client.handle, list)
            let failed = KafkaTopicPartition.array(from: list).indices.first { list.pointee.elems[$0].err != RD_KAFKA_RESP_ERR_NO_ERROR }
            if let failed {
                throw KafkaError(rdKafka: list.pointee.elems[failed].err, context: "cannot store offset for \(positions[failed])")
            }
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(rdKafka: error, context: "cannot store offsets") }
        }
    }

    /// Waits for the next message. Returns `nil` once the consumer is closed.
    func nextMessage() async throws -> KafkaConsumerMessage? {
        if self.isClosed.isSet { return nil }
        // What an earlier poll already took from librdkafka: no queue hop per message.
        if let buffered = self.buffered.withLock({ $0.popLast() }) { return buffered }
        let cancelled = StopFlag()
        let client = self.client
        let isClosed = self.isClosed
        let logger = self.logger
        let context = self.context
        let batch = try await withTaskCancellationHandler {
            try await self.pollQueue.run { () throws -> [KafkaConsumerMessage] in
                // Short polls so that close and cancellation are noticed within 100 ms.
                var batch: [KafkaConsumerMessage] = []
                while true {
                    // Closed: what was polled is dropped (nothing of it was handled or stored).
                    if isClosed.isSet { return [] }
                    // Cancelled with messages in hand: hand them out, as librdkafka is past them.
                    if cancelled.isSet { if batch.isEmpty { throw CancellationError() } else { return batch } }
                    // The first message waits up to 100 ms; then whatever else is ready, up to a
                    // batch — one hop to this queue per batch rather than per message (it was most of
                    // the time a reader spent on a topic read from its beginning).
                    guard let message = rd_kafka_consumer_poll(client.handle, batch.isEmpty ? 100 : 0) else {
                        if batch.isEmpty { continue }
                        return batch
                    }
                    defer { rd_kafka_message_destroy(message) }
                    let error = message.pointee.err
                    if error == RD_KAFKA_RESP_ERR_NO_ERROR {
                        var copy = KafkaConsumerMessage(copying: message)
                        // Rebalance callbacks run inside the poll on this queue, so this is the
                        // assignment the message was fetched under.
                        copy.assignmentGeneration = context.generation(of: KafkaTopicPartition(topic: copy.topic, partition: copy.partition)) ?? 0
                        batch.append(copy)
                        if batch.count == Self.pollBatch { return batch }
                        continue
                    }
                    let kafkaError = KafkaError(rdKafka: error, context: "consume")
                    if kafkaError.isFatal { throw kafkaError }
                    logger.warning("Kafka consumer error", metadata: ["error": "\(kafkaError)"])
                    if !batch.isEmpty { return batch }
                }
            }
        } onCancel: {
            cancelled.set()
        }
        guard let first = batch.first, !self.isClosed.isSet else { return nil }
        self.buffered.withLock { $0 = batch.dropFirst().reversed() }
        return first
    }

}

/// The messages of a `KafkaConsumer` as an `AsyncSequence`.
public struct KafkaConsumerMessages: AsyncSequence, Sendable {
    public typealias Element = KafkaConsumerMessage
    let consumer: KafkaConsumer

    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: KafkaConsumer

        public mutating func next() async throws -> KafkaConsumerMessage? {
            try await self.consumer.nextMessage()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(consumer: self.consumer)
    }
}

/// Commits the stored offsets of the current assignment. Blocking.
private func commitStored(_ handle: OpaquePointer) throws {
    let error = rd_kafka_commit(handle, nil, 0)
    // _NO_OFFSET: nothing stored since the last commit.
    guard error == RD_KAFKA_RESP_ERR_NO_ERROR || error == RD_KAFKA_RESP_ERR__NO_OFFSET else {
        throw KafkaError(rdKafka: error, context: "cannot commit stored offsets")
    }
}

private final class ConsumerContext: RDKafkaContext, @unchecked Sendable {
    // AsyncStream.Continuation is Sendable and thread-safe; `generations` is locked; the rest is immutable.
    let events: AsyncStream<KafkaConsumerEvent>.Continuation
    /// A number per assignment of each partition, new every time it is assigned.
    private let generations = Mutex<(next: UInt64, current: [KafkaTopicPartition: UInt64])>((1, [:]))

    func generation(of partition: KafkaTopicPartition) -> UInt64? {
        self.generations.withLock { $0.current[partition] }
    }

    private func assigned(_ partitions: [KafkaTopicPartition]) {
        self.generations.withLock { state in
            for partition in partitions {
                state.current[KafkaTopicPartition(topic: partition.topic, partition: partition.partition)] = state.next
                state.next += 1
            }
        }
    }

    private func revoked(_ partitions: [KafkaTopicPartition]?) {
        self.generations.withLock { state in
            guard let partitions else { return state.current.removeAll() }
            for partition in partitions { state.current[KafkaTopicPartition(topic: partition.topic, partition: partition.partition)] = nil }
        }
    }

    init(logger: Logger, events: AsyncStream<KafkaConsumerEvent>.Continuation) {
        self.events = events
        super.init(logger: logger)
    }

    override func rebalance(handle: OpaquePointer, error: rd_kafka_resp_err_t, partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        let changed = KafkaTopicPartition.array(from: partitions)
        let cooperative = String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE"
        switch error {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if cooperative {
                if let failure = rd_kafka_incremental_assign(handle, partitions) {
                    self.logger.error("Kafka incremental assign failed", metadata: ["error": "\(KafkaError(consuming: failure))"])
                }
            } else {
                rd_kafka_assign(handle, partitions)
            }
            self.assigned(changed)
            self.logger.info("Kafka partitions assigned", metadata: ["kafka.partitions": "\(changed.map(\.description).joined(separator: ","))"])
            self.events.yield(.partitionsAssigned(changed))
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            // Commit what was processed before the partitions go, so the next owner starts there.
            do {
                try commitStored(handle)
            } catch {
                self.logger.warning("Kafka commit before revocation failed; processed messages may be redelivered", metadata: ["error": "\(error)"])
            }
            if cooperative {
                if let failure = rd_kafka_incremental_unassign(handle, partitions) {
                    self.logger.error("Kafka incremental unassign failed", metadata: ["error": "\(KafkaError(consuming: failure))"])
                }
            } else {
                rd_kafka_assign(handle, nil)
            }
            self.revoked(cooperative ? changed : nil)
            self.logger.info("Kafka partitions revoked", metadata: ["kafka.partitions": "\(changed.map(\.description).joined(separator: ","))"])
            self.events.yield(.partitionsRevoked(changed))
        default:
            self.logger.error("Kafka rebalance failed", metadata: ["error": "\(KafkaError(rdKafka: error))"])
            rd_kafka_assign(handle, nil)
            self.revoked(nil)
        }
    }
}

/// Runs inside `rd_kafka_consumer_poll` / `rd_kafka_consumer_close`, on the consumer's poll queue.
private let rebalanceCallback: @convention(c) (OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, UnsafeMutableRawPointer?) -> Void = {
    handle, error, partitions, opaque in
    guard let handle, let opaque else { return }
    RDKafkaContext.fromOpaque(opaque).rebalance(handle: handle, error: error, partitions: partitions)
}

extension KafkaConsumerMessage {
    /// Copies everything out of a librdkafka message.
    init(copying message: UnsafeMutablePointer<rd_kafka_message_t>) {
        let record = message.pointee
        func bytes(_ pointer: UnsafeMutableRawPointer?, _ count: Int) -> [UInt8]? {
            guard let pointer else { return nil }
            return Array(UnsafeRawBufferPointer(start: pointer, count: count))
        }
        var headers: [KafkaHeader] = []
        var headerList: OpaquePointer?
        if rd_kafka_message_headers(message, &headerList) == RD_KAFKA_RESP_ERR_NO_ERROR, let headerList {
            var index = 0
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(headerList, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                headers.append(KafkaHeader(key: String(cString: name!), value: value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }))
                index += 1
            }
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let milliseconds = rd_kafka_message_timestamp(message, &timestampType)
        self.init(
            topic: record.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "",
            partition: KafkaPartition(rawValue: record.partition),
            offset: KafkaOffset(rawValue: record.offset),
            key: bytes(record.key, record.key_len),
            value: bytes(record.payload, record.len),
            headers: headers,
            timestamp: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        )
    }
}
