import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TributaryCore
import TributaryKafka

/// A member of the `tributary-workers` consumer group: syncs the apps of the changes on its
/// partitions, publishes their sync events, and commits a change's offset only once those events
/// are acknowledged. Between changes it reconciles the apps it owns — the apps whose repository
/// key hashes to one of its partitions — on their interval and retry timers, so scaling out never
/// reconciles an app twice.
public final class SyncWorker: Service, Sendable {
    public struct Options: Sendable {
        /// Consumer group. Default `tributary-workers`.
        public var groupID = "tributary-workers"
        /// How often timers are checked. Default 250 ms.
        public var tick: Duration = .milliseconds(250)
        /// How often processed offsets are committed. Default 1 s.
        public var commitInterval: Duration = .seconds(1)
        /// Group session timeout: how long a killed worker's partitions wait before moving. Default 10 s.
        public var sessionTimeout: Duration = .seconds(10)

        public init() {}
    }

    private let topics: TributaryTopics
    private let consumerConfiguration: KafkaConsumerConfiguration
    private let engine: SyncEngine
    private let producer: KafkaProducer
    private let options: Options
    private let logger: Logger
    private let source: String
    private let assigned = Mutex<Set<KafkaPartition>?>(nil)
    private let partitionCount = Mutex<Int?>(nil)
    private let stopping = Atomic<Bool>(false)
    private let inProgress = Mutex<Set<String>>([])
    private let offsetsStored = Atomic<Bool>(false)
    private let skippedOffsets = KafkaSkippedOffsets()

    public init(topics: TributaryTopics, kafka: KafkaConfiguration, engine: SyncEngine, producer: KafkaProducer, options: Options = Options(), logger: Logger) {
        self.topics = topics
        self.consumerConfiguration = KafkaConsumerConfiguration(kafka: kafka, groupID: options.groupID, sessionTimeout: options.sessionTimeout)
        self.engine = engine
        self.producer = producer
        self.options = options
        self.logger = logger
        self.source = "tributary/worker/\(ProcessInfo.processInfo.hostName)/\(getpid())"
    }

    /// Whether the worker holds an assignment (possibly empty) from the group.
    public var isReady: Bool { self.assigned.withLock { $0 != nil } }

    /// The changes partitions this worker owns.
    public var assignedPartitions: [KafkaPartition] { self.assigned.withLock { ($0 ?? []).sorted() } }

    public func run() async throws {
        let consumer = try KafkaConsumer(configuration: self.consumerConfiguration, logger: self.logger)
        try consumer.subscribe(topics: [self.topics.changes])
        self.logger.info("Worker joining group", metadata: ["group": "\(self.options.groupID)", "topic": "\(self.topics.changes)"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.trackAssignment(consumer) }
            group.addTask { await self.reconcileLoop() }
            group.addTask { await self.commitLoop(consumer) }
            // Returns on graceful shutdown, once the changes in flight are synced and their events acknowledged.
            do {
                try await self.consume(consumer)
            } catch {
                self.stopping.store(true, ordering: .relaxed)
                await consumer.close()
                throw error
            }
            self.stopping.store(true, ordering: .relaxed)
            await consumer.close()  // commits what was stored, then leaves the group
            try await group.waitForAll()
        }
        self.logger.info("Worker stopped")
    }

    // MARK: Changes

    private func consume(_ consumer: KafkaConsumer) async throws {
        try await consumer.forEachMessageByPartition { message in
            if self.stopping.load(ordering: .relaxed) { return }
            await self.process(message, consumer: consumer)
        }
    }

    private func process(_ message: KafkaConsumerMessage, consumer: KafkaConsumer) async {
        // Revoked (or stopping): leave it uncommitted for the next owner. Asked of the consumer itself,
        // since the `events` stream may lag behind the messages of a new assignment.
        guard consumer.isAssigned(topic: self.topics.changes, partition: message.partition) else {
            self.skippedOffsets.skip(message)
            return
        }
        let change: ChangeEvent
        let event: CloudEvent
        do {
            event = try CloudEvent(kafkaMessage: message)
            guard event.type == ChangeEvent.eventType else {
                self.logger.debug("Ignoring event", metadata: ["type": "\(event.type)"])
                self.store(message, in: consumer)
                return
            }
            change = try event.decodePayload(as: ChangeEvent.self)
        } catch {
            await self.deadLetter(message, reason: "undecodable change event: \(error)")
            self.store(message, in: consumer)
            return
        }
        let events = await self.engine.handle(change, id: event.id)
        // The syncs are done: their events are published even if the partition moved meanwhile.
        guard await self.publish(events), consumer.isAssigned(topic: self.topics.changes, partition: message.partition) else {
            self.skippedOffsets.skip(message)
            return  // not acknowledged, or no longer ours: leave the offset, so the change is processed again
        }
        self.store(message, in: consumer)
        self.engine.metrics.recordChangeProcessed()
        self.logger.debug(
            "Change processed",
            metadata: ["delivery": "\(change.deliveryID)", "apps": "\(events.map { "\($0.app)=\($0.phase.rawValue)" }.joined(separator: ","))"]
        )
    }

    private func store(_ message: KafkaConsumerMessage, in consumer: KafkaConsumer) {
        guard self.skippedOffsets.mayStore(message) else { return }
        do {
            try consumer.storeOffset(message)
            self.offsetsStored.store(true, ordering: .relaxed)
        } catch {
            self.logger.debug("Offset not stored (partition moved)", metadata: ["partition": "\(message.partition)", "error": "\(error)"])
        }
    }

    /// Publishes sync events and waits for the broker's acknowledgements, retrying while the broker
    /// is away. Returns false when it gave up: 10 s into a graceful shutdown.
    private func publish(_ events: [SyncEvent]) async -> Bool {
        var pending = events
        var delay: Duration = .milliseconds(200)
        var shutdownSeen: ContinuousClock.Instant?
        while !pending.isEmpty {
            var failed: [SyncEvent] = []
            await withTaskGroup(of: SyncEvent?.self) { group in
                for event in pending {
                    group.addTask {
                        do {
                            _ = try await self.producer.deliver(self.message(for: event))
                            return nil
                        } catch {
                            self.logger.warning("Sync event not acknowledged", metadata: ["app": "\(event.app)", "error": "\(error)"])
                            return event
                        }
                    }
                }
                for await result in group { if let result { failed.append(result) } }
            }
            pending = failed
            if pending.isEmpty { break }
            if Task.isShuttingDownGracefully || self.stopping.load(ordering: .relaxed) {
                let seen = shutdownSeen ?? .now
                shutdownSeen = seen
                if ContinuousClock.now - seen > .seconds(10) { return false }
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
        return true
    }

    private func message(for event: SyncEvent) throws -> KafkaProducerMessage {
        let cloudEvent = try CloudEvent(
            source: self.source,
            type: SyncEvent.eventType(for: event.phase),
            time: event.finishedAt,
            subject: event.app,
            payload: event
        )
        return cloudEvent.kafkaMessage(topic: self.topics.sync, key: event.app)
    }

    private func deadLetter(_ message: KafkaConsumerMessage, reason: String) async {
        self.logger.error("Change event moved to the dead-letter topic", metadata: ["partition": "\(message.partition)", "offset": "\(message.offset)", "reason": "\(reason)"])
        let letter = KafkaProducerMessage(
            topic: self.topics.deadLetters,
            key: message.key,
            value: message.value,
            headers: message.headers + [
                KafkaHeader(key: "tributary_dlq_reason", value: Array(reason.utf8)),
                KafkaHeader(key: "tributary_dlq_source", value: Array("\(message.topic)/\(message.partition)/\(message.offset)".utf8)),
            ]
        )
        _ = try? await self.producer.deliver(letter)
    }

    // MARK: Ownership, timers, commits

    private func trackAssignment(_ consumer: KafkaConsumer) async {
        for await event in consumer.events {
            switch event {
            case .partitionsAssigned(let partitions):
                if let committed = try? await consumer.committedOffsets(for: partitions.map { KafkaTopicPartition(topic: $0.topic, partition: $0.partition) }) {
                    self.skippedOffsets.forget(committed: committed)
                }
                self.assigned.withLock { assigned in
                    assigned = (assigned ?? []).union(partitions.filter { $0.topic == self.topics.changes }.map(\.partition))
                }
            case .partitionsRevoked(let partitions):
                self.assigned.withLock { assigned in
                    assigned = (assigned ?? []).subtracting(partitions.map(\.partition))
                }
            }
            if self.partitionCount.withLock({ $0 }) == nil {
                let count = try? await consumer.partitionCounts(timeout: .seconds(10))[self.topics.changes]
                self.partitionCount.withLock { $0 = count }
            }
            let owned = self.ownedApps()
            self.engine.ownershipChanged(owned: owned)
            self.logger.info(
                "Partitions changed",
                metadata: ["partitions": "\(self.assignedPartitions.map(\.description).joined(separator: ","))", "apps": "\(owned.count)"]
            )
        }
    }

    /// Apps whose repository key hashes to a partition assigned to this worker: the partition
    /// their change events arrive on.
    func ownedApps() -> [AppSettings] {
        guard let count = self.partitionCount.withLock({ $0 }), count > 0 else { return [] }
        let assigned = self.assigned.withLock { $0 ?? [] }
        return self.engine.configuration.apps.filter { app in
            let key = RepositoryKey(url: app.source.repoURL)?.rawValue ?? app.source.repoURL
            return assigned.contains(KafkaPartitioner.partition(forKey: key, partitionCount: count))
        }
    }

    private func reconcileLoop() async {
        await withDiscardingTaskGroup { group in
            while !self.stopping.load(ordering: .relaxed) {
                try? await Task.sleep(for: self.options.tick)
                if self.stopping.load(ordering: .relaxed) { break }
                for (app, trigger) in self.engine.dueWork(among: self.ownedApps()) {
                    guard self.inProgress.withLock({ $0.insert(app.name).inserted }) else { continue }
                    self.engine.scheduleNextInterval(for: app, trigger: trigger)
                    group.addTask {
                        defer { _ = self.inProgress.withLock { $0.remove(app.name) } }
                        var events: [SyncEvent] = []
                        if let event = await self.engine.sync(app, trigger: trigger) { events.append(event) }
                        if case .interval = trigger, let event = await self.engine.checkDrift(app) { events.append(event) }
                        _ = await self.publish(events)
                    }
                }
            }
        }
    }

    private func commitLoop(_ consumer: KafkaConsumer) async {
        while !self.stopping.load(ordering: .relaxed) {
            try? await Task.sleep(for: self.options.commitInterval)
            guard self.offsetsStored.exchange(false, ordering: .relaxed) else { continue }
            do {
                try await consumer.commit()
            } catch {
                self.offsetsStored.store(true, ordering: .relaxed)  // stays stored; try again next time
                self.logger.debug("Commit deferred", metadata: ["error": "\(error)"])
            }
        }
    }
}
