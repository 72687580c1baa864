import Foundation
import Logging
import Synchronization
import TributaryCore
import TributaryGit
import TributaryKafka
import TributaryKafkaBinding
import TributaryStage

/// The planner stage: reads change events as the `tributary-planners` group and publishes one
/// sync request per app the push concerns to the app's requests topic, on the partition
/// `KafkaPartitioner.partition(forKey: app, partitionCount:)`, so the apps of one monorepo
/// spread over every worker of their group. The change is committed once every request is
/// acknowledged; a planner that dies part-way plans the change again, and workers treat a
/// request for a revision they already hold as `coalesced`.
///
/// A delivery the Git host sent again — to another listener replica, which does not know the
/// first one was published — is dropped here, where all deliveries of a repository meet: the
/// planner reads back the last `deduplicationLookback` records of each changes partition it is
/// assigned (so the check survives restarts and rebalances) and drops a change whose delivery an
/// earlier offset carried within `listener.deduplicationWindow`.
public final class Planner: Sendable {
    public struct Options: Sendable {
        /// Consumer group. Default `tributary-planners`.
        public var groupID = "tributary-planners"
        public var sessionTimeout: Duration = .seconds(10)
        /// Attempts at fetching a change's repository before it is dead-lettered (the apps'
        /// interval reconcile catches up later). Default 10, backing off from 1 s to 30 s.
        public var fetchAttempts = 10
        /// How often the requests topics' partition counts are read again. Default 30 s.
        public var partitionCountRefresh: Duration = .seconds(30)
        /// Records of a changes partition read back for earlier copies of a delivery. Default 10,000.
        public var deduplicationLookback = 10_000

        public init() {}
    }

    private let planner: ChangePlanner
    private let topics: TributaryTopics
    private let producer: KafkaProducer
    private let options: Options
    private let logger: Logger
    private let counts = Mutex<(counts: [String: Int], readAt: ContinuousClock.Instant?)>(([:], nil))
    private let source: String
    private let deduplicationWindow: TimeInterval
    private let histories = Mutex<[KafkaPartition: DeliveryHistory]>([:])
    private let historyLoads = KeyedAsyncLock()
    private let redeliveries = Atomic<Int>(0)
    private let kafka = Mutex<KafkaConfiguration?>(nil)

    public init(configuration: TributaryConfiguration, mirrors: GitMirrorCache, producer: KafkaProducer, options: Options = Options(), logger: Logger) {
        self.planner = ChangePlanner(configuration: configuration, mirrors: mirrors)
        self.deduplicationWindow = configuration.listener.deduplicationWindow.seconds
        self.topics = configuration.kafka.topics
        self.producer = producer
        self.options = options
        self.logger = logger
        self.source = "tributary/planner/\(ProcessInfo.processInfo.hostName)/\(getpid())"
    }

    /// The consumer stage that runs this planner: run it as a service, after the producer.
    public func makeStage(kafka: KafkaConfiguration) -> ConsumerStage {
        var options = ConsumerStage.Options(name: "planner", groupID: self.options.groupID, topics: [self.topics.changes], deadLetterTopic: self.topics.deadLetters)
        options.sessionTimeout = self.options.sessionTimeout
        self.kafka.withLock { $0 = kafka }
        return ConsumerStage(
            options: options, kafka: kafka, producer: self.producer, logger: self.logger,
            onRebalance: { assignment in
                // Frees the histories of partitions no longer held; one that comes back has a new
                // assignment generation and is read again (see `earlierCopy`).
                let held = Set(assignment.filter { $0.topic == self.topics.changes }.map(\.partition))
                self.histories.withLock { histories in histories = histories.filter { held.contains($0.key) } }
            },
            handler: self.handle
        )
    }

    /// `tributary_planner_redeliveries_total`: changes dropped as another copy of a delivery.
    public func renderMetrics() -> String {
        """
        # HELP tributary_planner_redeliveries_total Change events dropped because an earlier record of their partition carried the same delivery.
        # TYPE tributary_planner_redeliveries_total counter
        tributary_planner_redeliveries_total \(self.redeliveries.load(ordering: .relaxed))

        """
    }

    func handle(_ message: KafkaConsumerMessage, context: ConsumerStageContext) async -> ConsumerStageOutcome {
        let event: CloudEvent
        let change: ChangeEvent
        do {
            event = try CloudEvent(kafkaMessage: message)
            guard event.type == ChangeEvent.eventType else { return .done([]) }
            change = try event.decodePayload(as: ChangeEvent.self)
        } catch {
            return .deadLetter(reason: "undecodable change event: \(error)")
        }
        switch await self.earlierCopy(of: change, in: message, context: context) {
        case .none where !context.isCurrent:
            return .abandon
        case .none where context.attempt < 3:
            return .retry(after: .seconds(1), reason: "the partition's earlier deliveries cannot be read")
        case .none:
            // A redelivery planned twice only costs the workers a `coalesced` request; a stalled partition costs every push.
            self.logger.warning("Planning without checking for redeliveries", metadata: ["delivery": "\(change.deliveryID)", "partition": "\(message.partition)"])
        case .some(.some(let earlier)):
            self.redeliveries.add(1, ordering: .relaxed)
            self.logger.info(
                "Delivery already planned; dropping this copy",
                metadata: ["delivery": "\(change.deliveryID)", "repository": "\(change.repository.key)", "offset": "\(message.offset)", "first": "\(earlier.offset)"]
            )
            return .done([])
        case .some(.none):
            break
        }
        let requests: [SyncRequest]
        do {
            let apps = self.planner.apps(for: change)
            guard !apps.isEmpty else { return .done([]) }  // no app follows the pushed ref
            let counts = try await self.partitionCounts(for: apps)
            requests = try await self.planner.plan(change, apps: apps, changeID: event.id) { app in counts[self.topics.requests(cluster: app.cluster)]! }
        } catch {
            let reason = "\(change.repository.key) \(change.ref): \(error)"
            guard context.attempt < self.options.fetchAttempts else {
                return .deadLetter(reason: "cannot plan after \(context.attempt) attempts: \(reason)")
            }
            return .retry(after: min(.seconds(1) * (1 << min(context.attempt - 1, 5)), .seconds(30)), reason: reason)
        }
        do {
            let records = try requests.map { request in
                let cloudEvent = try CloudEvent(source: self.source, type: SyncRequest.eventType, subject: request.app, payload: request)
                var record = cloudEvent.kafkaMessage(topic: self.topics.requests(cluster: request.cluster), key: request.app)
                record.partition = KafkaPartitioner.partition(forKey: request.app, partitionCount: request.partitionCount)
                return record
            }
            self.logger.debug("Change planned", metadata: ["delivery": "\(change.deliveryID)", "requests": "\(records.count)"])
            return .done(records)
        } catch {
            return .deadLetter(reason: "cannot encode sync requests: \(error)")
        }
    }

    /// The earlier copy of `change`'s delivery in its partition (`.some(nil)` when there is none),
    /// or nil when the partition's history cannot be read, or the partition moved meanwhile.
    private func earlierCopy(of change: ChangeEvent, in message: KafkaConsumerMessage, context: ConsumerStageContext) async -> DeliveryHistory.Sighting?? {
        let partition = message.partition
        let generation = message.assignmentGeneration
        func isLoaded() -> Bool { self.histories.withLock { $0[partition].map { $0.generation == generation && $0.isLoaded } ?? false } }
        if !isLoaded() {
            let loaded = await self.historyLoads.withLock(partition.description) { () async -> Bool in
                if isLoaded() { return true }  // read while this waited
                guard let kafka = self.kafka.withLock({ $0 }) else { return false }
                do {
                    let read = try await DeliveryHistory.read(
                        topic: message.topic, partition: partition, below: message.offset.rawValue,
                        lookback: self.options.deduplicationLookback, kafka: kafka, logger: self.logger
                    )
                    // Read while the partition moved away: its other owner may have read on since.
                    guard context.isCurrent else { return false }
                    self.histories.withLock { histories in
                        if histories[partition]?.generation != generation {
                            histories[partition] = DeliveryHistory(window: self.deduplicationWindow, generation: generation)
                        }
                        histories[partition]!.loaded(read)
                    }
                    return true
                } catch {
                    self.logger.warning("Cannot read the partition's earlier deliveries", metadata: ["partition": "\(partition)", "error": "\(error)"])
                    return false
                }
            }
            guard loaded else { return nil }
        }
        return self.histories.withLock { histories -> DeliveryHistory.Sighting?? in
            guard histories[partition]?.generation == generation else { return nil }
            return .some(histories[partition]!.observe(change, at: message.offset.rawValue))
        }
    }

    /// The partition counts of the requests topics these apps go to, read from the cluster every
    /// `partitionCountRefresh` or when a topic is not known yet; a count that changed is logged,
    /// since it moves apps between workers.
    private func partitionCounts(for apps: [AppSettings]) async throws -> [String: Int] {
        let needed = Set(apps.map { self.topics.requests(cluster: $0.cluster) })
        let (cached, readAt) = self.counts.withLock { ($0.counts, $0.readAt) }
        if let readAt, ContinuousClock.now - readAt < self.options.partitionCountRefresh, needed.allSatisfy({ cached[$0] != nil }) {
            return cached
        }
        let fresh = try await self.producer.partitionCounts(timeout: .seconds(10))
        for topic in needed where fresh[topic] == nil {
            throw PlannerError(message: "topic \(topic) does not exist; create it (the embedded broker creates the topics of the clusters its configuration names)")
        }
        for (topic, count) in fresh where topic.hasPrefix(self.topics.requests) {
            if let old = cached[topic], old != count {
                self.logger.warning(
                    "Partition count changed: apps move between workers",
                    metadata: ["topic": "\(topic)", "from": "\(old)", "to": "\(count)"]
                )
            }
        }
        self.counts.withLock { $0 = (fresh, .now) }
        return fresh
    }
}

struct PlannerError: Error, CustomStringConvertible {
    var message: String
    var description: String { self.message }
}
