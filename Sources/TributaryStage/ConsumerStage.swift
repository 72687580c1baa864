import Logging
import ServiceLifecycle
import Synchronization
import TributaryKafka

/// The consumer half of every Tributary stage — planner, sync worker, notification router and
/// delivery: a consumer-group member that hands each message to a handler and commits it only
/// once the handler's output (or the message's dead letter) is acknowledged by the broker.
///
/// - Order: messages with the same key run one at a time, in offset order; different keys of a
///   partition run in parallel (up to `maxConcurrency` at once), so one monorepo's apps or one
///   sink's slow receiver do not hold up the rest of a partition.
/// - Commits: a partition's committed position is its first message not finished (see
///   `PartitionProgress`), so nothing is committed past a message that is still running, waiting
///   for a retry, or was left uncommitted.
/// - Revocation: a message whose partition was revoked — even if assigned again since — is not
///   committed; its partition's next owner reads it again (`KafkaConsumer/isCurrent(_:)`).
/// - Dead letters are retried until acknowledged; while one fails its partition stalls, which
///   `readiness` and `metrics` show.
public final class ConsumerStage: Service, Sendable {
    public struct Options: Sendable {
        /// Names the stage in logs and metrics (`planner`, `worker`, ...).
        public var name: String
        public var groupID: String
        public var topics: [String]
        /// Where dead letters go.
        public var deadLetterTopic: String
        /// Group session timeout. Default 10 s.
        public var sessionTimeout: Duration = .seconds(10)
        /// How often finished offsets are committed (they are also committed on revocation and stop). Default 1 s.
        public var commitInterval: Duration = .seconds(1)
        /// Handlers running at once, across keys. Default 64.
        public var maxConcurrency = 64
        /// Messages read ahead of their handling; reading pauses past it. Default 10,000.
        public var maxBuffered = 10_000

        public init(name: String, groupID: String, topics: [String], deadLetterTopic: String) {
            self.name = name
            self.groupID = groupID
            self.topics = topics
            self.deadLetterTopic = deadLetterTopic
        }
    }

    public typealias Handler = @Sendable (KafkaConsumerMessage, ConsumerStageContext) async -> ConsumerStageOutcome
    public typealias RebalanceObserver = @Sendable (_ assigned: [KafkaTopicPartition]) async -> Void

    public let options: Options
    private let consumerConfiguration: KafkaConsumerConfiguration
    /// Per topic, measured every 5 s in the commit loop (a request to the group coordinator).
    private let lag = Mutex<[String: Int64]>([:])
    private let producer: KafkaProducer
    private let handler: Handler
    private let onRebalance: RebalanceObserver?
    private let logger: Logger
    private let state = Mutex(State())
    private let stopping = Atomic<Bool>(false)
    public let metrics: ConsumerStageMetrics

    struct State {
        var assignment: [KafkaTopicPartition]?
        var progress: [KafkaTopicPartition: PartitionProgress] = [:]
        /// Keys with a drain task running, and the messages waiting behind them.
        var queues: [String: [KafkaConsumerMessage]] = [:]
        var offsetsStored = false
        /// Partitions held by a dead letter the broker does not take, with the reason.
        var stalled: [KafkaTopicPartition: String] = [:]
    }

    /// - Parameters:
    ///   - onRebalance: told the whole assignment after every change (before messages of newly
    ///     assigned partitions are handled, though possibly after they were read).
    public init(options: Options, kafka: KafkaConfiguration, producer: KafkaProducer, logger: Logger, onRebalance: RebalanceObserver? = nil, handler: @escaping Handler) {
        self.options = options
        self.consumerConfiguration = KafkaConsumerConfiguration(kafka: kafka, groupID: options.groupID, sessionTimeout: options.sessionTimeout)
        self.producer = producer
        self.handler = handler
        self.onRebalance = onRebalance
        self.metrics = ConsumerStageMetrics(stage: options.name)
        var logger = logger
        logger[metadataKey: "stage"] = "\(options.name)"
        self.logger = logger
    }

    /// The partitions this member holds; nil until the group first assigned it (possibly nothing).
    public var assignment: [KafkaTopicPartition]? { self.state.withLock { $0.assignment?.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) } } }

    /// Ready once the group has assigned this member, unless a dead letter holds a partition.
    public var readiness: (ready: Bool, reason: String) {
        self.state.withLock { state in
            guard let assignment = state.assignment else { return (false, "joining the consumer group \(self.options.groupID)") }
            if let (partition, reason) = state.stalled.min(by: { $0.key.description < $1.key.description }) {
                return (false, "\(partition) is held: dead letter not written (\(reason))")
            }
            return (true, "ready: partitions \(assignment.map { String($0.partition.rawValue) }.sorted { Int($0)! < Int($1)! }.joined(separator: ","))")
        }
    }

    /// Prometheus text for this stage.
    public func renderMetrics() -> String {
        self.metrics.render(stalledPartitions: self.state.withLock { $0.stalled.count }) + Self.renderLag(group: self.options.groupID, self.lag.withLock { $0 })
    }

    /// `tributary_consumer_lag{group,topic}`: what `lag` last measured.
    public static func renderLag(group: String, _ lag: [String: Int64]) -> String {
        guard !lag.isEmpty else { return "" }
        var lines = ["# HELP tributary_consumer_lag Records behind the newest, summed over this member's partitions of the topic.", "# TYPE tributary_consumer_lag gauge"]
        for (topic, value) in lag.sorted(by: { $0.key < $1.key }) { lines.append("tributary_consumer_lag{group=\"\(group)\",topic=\"\(topic)\"} \(value)") }
        return lines.joined(separator: "\n") + "\n"
    }

    public func run() async throws {
        let consumer = try KafkaConsumer(configuration: self.consumerConfiguration, logger: self.logger)
        try consumer.subscribe(topics: self.options.topics)
        self.logger.info("Joining consumer group", metadata: ["group": "\(self.options.groupID)", "topics": "\(self.options.topics.joined(separator: ","))"])
        let buffer = AsyncSemaphore(limit: self.options.maxBuffered)
        let running = AsyncSemaphore(limit: self.options.maxConcurrency)
        var failure: (any Error)?
        await withTaskGroup(of: Void.self) { background in
            background.addTask { await self.trackAssignment(consumer) }
            background.addTask { await self.commitLoop(consumer) }
            do {
                try await withThrowingDiscardingTaskGroup { drains in
                    for try await message in consumer.messages.cancelOnGracefulShutdown() {
                        await buffer.acquire()
                        guard self.accept(message, consumer: consumer) else {
                            buffer.release()
                            continue
                        }
                        let key = Self.orderingKey(of: message)
                        let startsDrain = self.state.withLock { state -> Bool in
                            if state.queues[key] != nil {
                                state.queues[key]!.append(message)
                                return false
                            }
                            state.queues[key] = [message]
                            return true
                        }
                        if startsDrain {
                            drains.addTask { await self.drain(key, consumer: consumer, running: running, buffer: buffer) }
                        }
                    }
                    // Graceful stop: messages not started are left uncommitted; those running finish.
                    self.stopping.store(true, ordering: .relaxed)
                }
            } catch {
                failure = error
            }
            self.stopping.store(true, ordering: .relaxed)
            await consumer.close()  // commits what was stored, then leaves the group
            background.cancelAll()
        }
        if let failure { throw failure }
        self.logger.info("Stopped")
    }

    static func orderingKey(of message: KafkaConsumerMessage) -> String {
        "\(message.topic)/\(message.partition)/" + (message.keyString ?? "")
    }

    /// Registers a message in its partition's progress; false for a message of an assignment
    /// that already ended (it is read again from the committed offset).
    private func accept(_ message: KafkaConsumerMessage, consumer: KafkaConsumer) -> Bool {
        guard consumer.isCurrent(message) else { return false }
        let partition = KafkaTopicPartition(topic: message.topic, partition: message.partition)
        return self.state.withLock { state in
            if state.progress[partition]?.generation != message.assignmentGeneration {
                state.progress[partition] = PartitionProgress(generation: message.assignmentGeneration)
                state.stalled[partition] = nil
            }
            state.progress[partition]!.arrived(message.offset.rawValue)
            return true
        }
    }

    /// Runs the messages of one key in order until none is left.
    private func drain(_ key: String, consumer: KafkaConsumer, running: AsyncSemaphore, buffer: AsyncSemaphore) async {
        while let message = self.state.withLock({ $0.queues[key]?.first }) {
            await running.withPermit { await self.process(message, consumer: consumer) }
            buffer.release()
            let more = self.state.withLock { state -> Bool in
                state.queues[key]!.removeFirst()
                if state.queues[key]!.isEmpty {
                    state.queues[key] = nil
                    return false
                }
                return true
            }
            if !more { return }
        }
    }

    private func process(_ message: KafkaConsumerMessage, consumer: KafkaConsumer) async {
        let isCurrent: @Sendable () -> Bool = { consumer.isCurrent(message) }
        let stopping: @Sendable () -> Bool = { self.stopping.load(ordering: .relaxed) || Task.isShuttingDownGracefully }
        var lifecycle = MessageLifecycle(message: message, deadLetterTopic: self.options.deadLetterTopic)
        var action = lifecycle.start(isCurrent: isCurrent(), stopping: stopping())
        while true {
            switch action {
            case .handle(let attempt):
                let outcome = await self.handler(message, ConsumerStageContext(attempt: attempt, isCurrent: { isCurrent() && !stopping() }))
                self.log(outcome, of: message)
                action = lifecycle.handled(outcome, isCurrent: isCurrent(), stopping: stopping())
            case .publish(let records, let isDeadLetter):
                let failed = await self.publish(records)
                self.noteDeadLetter(of: message, written: isDeadLetter ? failed.isEmpty : nil)
                action = lifecycle.published(failed: failed, isCurrent: isCurrent(), stopping: stopping())
            case .sleep(let delay):
                // In short steps, so a moved partition or a stop does not wait out a long delay.
                let deadline = ContinuousClock.now + delay
                while ContinuousClock.now < deadline, !lifecycle.wakesEarly(isCurrent: isCurrent(), stopping: stopping()) {
                    try? await Task.sleep(for: min(.milliseconds(100), deadline - ContinuousClock.now))
                }
                action = lifecycle.wokeUp(isCurrent: isCurrent(), stopping: stopping())
            case .commit:
                self.finished(message, consumer: consumer)
                return
            case .leaveUncommitted:
                self.metrics.record(.leftUncommitted)
                self.state.withLock { state in
                    let partition = KafkaTopicPartition(topic: message.topic, partition: message.partition)
                    if state.progress[partition]?.generation == message.assignmentGeneration {
                        state.progress[partition]!.held(message.offset.rawValue)
                    }
                }
                return
            }
        }
    }

    private func log(_ outcome: ConsumerStageOutcome, of message: KafkaConsumerMessage) {
        switch outcome {
        case .done:
            self.metrics.record(.handled)
        case .retry(let delay, let reason):
            self.metrics.record(.retried)
            self.logger.warning("Message not handled yet; retrying", metadata: ["partition": "\(message.partition)", "offset": "\(message.offset)", "reason": "\(reason)", "wait": "\(delay)"])
        case .deadLetter(let reason, _):
            self.metrics.record(.deadLettered)
            self.logger.error("Message goes to the dead-letter topic", metadata: ["partition": "\(message.partition)", "offset": "\(message.offset)", "reason": "\(reason)"])
        case .abandon:
            break
        }
    }

    /// Keeps the partition's stall (a dead letter the broker does not take) up to date.
    private func noteDeadLetter(of message: KafkaConsumerMessage, written: Bool?) {
        guard let written else { return }
        let partition = KafkaTopicPartition(topic: message.topic, partition: message.partition)
        if !written { self.metrics.record(.deadLetterWriteFailed) }
        self.state.withLock { state in
            state.stalled[partition] = written ? nil : "\(self.options.deadLetterTopic) did not acknowledge the dead letter of offset \(message.offset)"
        }
    }

    /// Publishes records and waits for their acknowledgements; returns those that failed.
    private func publish(_ records: [KafkaProducerMessage]) async -> [KafkaProducerMessage] {
        await withTaskGroup(of: KafkaProducerMessage?.self) { group in
            for record in records {
                group.addTask {
                    do {
                        _ = try await self.producer.deliver(record)
                        return nil
                    } catch {
                        self.logger.warning("Record not acknowledged", metadata: ["topic": "\(record.topic)", "error": "\(error)"])
                        return record
                    }
                }
            }
            var failed: [KafkaProducerMessage] = []
            for await record in group { if let record { failed.append(record) } }
            return failed
        }
    }

    /// Marks the message finished and stores the partition's new committable position.
    private func finished(_ message: KafkaConsumerMessage, consumer: KafkaConsumer) {
        let partition = KafkaTopicPartition(topic: message.topic, partition: message.partition)
        let position = self.state.withLock { state -> Int64? in
            guard state.progress[partition]?.generation == message.assignmentGeneration else { return nil }
            return state.progress[partition]!.finished(message.offset.rawValue)
        }
        guard let position, consumer.isCurrent(message) else { return }
        do {
            // `storeOffset` records the position after the message it is given.
            var marker = message
            marker.offset = KafkaOffset(rawValue: position - 1)
            try consumer.storeOffset(marker)
            self.state.withLock { $0.offsetsStored = true }
        } catch {
            self.logger.debug("Offset not stored (partition moved)", metadata: ["partition": "\(message.partition)", "error": "\(error)"])
        }
    }

    private func trackAssignment(_ consumer: KafkaConsumer) async {
        for await event in consumer.events {
            let assignment = self.state.withLock { state -> [KafkaTopicPartition] in
                var current = Set(state.assignment ?? [])
                switch event {
                case .partitionsAssigned(let partitions):
                    current.formUnion(partitions.map { KafkaTopicPartition(topic: $0.topic, partition: $0.partition) })
                case .partitionsRevoked(let partitions):
                    current.subtract(partitions.map { KafkaTopicPartition(topic: $0.topic, partition: $0.partition) })
                    for partition in partitions {
                        let key = KafkaTopicPartition(topic: partition.topic, partition: partition.partition)
                        state.stalled[key] = nil
                    }
                }
                state.assignment = Array(current)
                return Array(current)
            }
            await self.onRebalance?(assignment)
        }
    }

    private func commitLoop(_ consumer: KafkaConsumer) async {
        var lastLag = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: self.options.commitInterval)
            defer { self.metrics.recordCommitRound() }
            if ContinuousClock.now - lastLag >= .seconds(5) {
                lastLag = .now
                if let lag = try? await consumer.lag(committed: true) { self.lag.withLock { $0 = lag } }
            }
            guard self.state.withLock({ state in defer { state.offsetsStored = false }; return state.offsetsStored }) else { continue }
            do {
                try await consumer.commit()
            } catch {
                self.state.withLock { $0.offsetsStored = true }  // still stored; try again next time
                self.logger.debug("Commit deferred", metadata: ["error": "\(error)"])
            }
        }
    }
}
