import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding
import TributaryStage

/// A member of a sync worker group: `tributary-workers` on `<prefix>.requests`, or, for a
/// cluster, `tributary-workers.<cluster>` on `<prefix>.requests.<cluster>`. Its stage syncs the
/// apps of the requests on its partitions and publishes their sync events; between requests
/// (`run()`) it reconciles the apps it owns — those whose name hashes to one of its partitions,
/// where their requests arrive — on their interval and retry timers, so scaling out never
/// reconciles an app twice.
public final class SyncWorker: Service, Sendable {
    public struct Options: Sendable {
        /// The cluster this worker syncs (`destination.name` of its apps); nil for apps that name none.
        public var cluster: String?
        /// Consumer group. Default `tributary-workers`, or `tributary-workers.<cluster>`.
        public var groupID: String?
        /// How often timers are checked. Default 250 ms.
        public var tick: Duration = .milliseconds(250)
        /// Group session timeout: how long a killed worker's partitions wait before moving. Default 10 s.
        public var sessionTimeout: Duration = .seconds(10)
        /// How long a request for an app this worker's configuration lacks is held (uncommitted,
        /// `/readyz` failing) before it is dead-lettered: time for a rolling restart to bring the
        /// configuration that has it. Default 5 min.
        public var unknownAppTimeout: Duration = .seconds(300)

        public init() {}

        var group: String { self.groupID ?? (self.cluster.map { "tributary-workers.\($0)" } ?? "tributary-workers") }
    }

    private let topics: TributaryTopics
    private let engine: SyncEngine
    private let producer: KafkaProducer
    private let options: Options
    private let logger: Logger
    private let source: String
    /// This worker's apps (of its cluster) by name, for the request path.
    private let apps: [String: AppSettings]
    private let assigned = Mutex<Set<KafkaPartition>?>(nil)
    private let partitionCount = Mutex<Int?>(nil)
    private let inProgress = Mutex<Set<String>>([])
    /// Requests for apps this worker does not know, by app: when first seen and on which partition.
    private let unknownApps = Mutex<[String: (since: ContinuousClock.Instant, partition: KafkaPartition)]>([:])

    /// - Parameters:
    ///   - engine: syncs the apps of this worker's cluster only (`SyncEngine` holds their credentials).
    public init(topics: TributaryTopics, engine: SyncEngine, producer: KafkaProducer, options: Options = Options(), logger: Logger) {
        self.topics = topics
        self.engine = engine
        self.producer = producer
        self.options = options
        var logger = logger
        if let cluster = options.cluster { logger[metadataKey: "cluster"] = "\(cluster)" }
        self.logger = logger
        self.source = "tributary/worker/\(ProcessInfo.processInfo.hostName)/\(getpid())"
        self.apps = Dictionary(engine.configuration.apps.filter { $0.cluster == options.cluster }.map { ($0.name, $0) }) { first, _ in first }
    }

    /// The topic this worker's requests arrive on.
    public var requestsTopic: String { self.topics.requests(cluster: self.options.cluster) }

    /// The consumer stage that feeds this worker its requests: run it as a service, after the
    /// producer and beside the worker.
    public func makeStage(kafka: KafkaConfiguration) -> ConsumerStage {
        var options = ConsumerStage.Options(name: "worker", groupID: self.options.group, topics: [self.requestsTopic], deadLetterTopic: self.topics.deadLetters)
        options.sessionTimeout = self.options.sessionTimeout
        return ConsumerStage(
            options: options, kafka: kafka, producer: self.producer, logger: self.logger,
            onRebalance: { await self.assignmentChanged($0) },
            handler: { await self.handle($0, context: $1) }
        )
    }

    /// The service that fetches a push's repository as soon as the push is announced, while the
    /// planner plans it, when an app this worker owns follows the pushed ref: run it beside the
    /// stage to save a git round trip per push. At most one fetch per owning worker and push —
    /// what its requests cause anyway, except when none of them needs git (every owned app
    /// untouched by the push, or not automated).
    public func makePrefetcher(kafka: KafkaConfiguration) -> ChangePrefetcher {
        ChangePrefetcher(topics: self.topics, engine: self.engine, kafka: kafka, logger: self.logger, owns: { self.owns($0) })
    }

    /// Not ready while a request for an app this worker's configuration lacks is held.
    public var readiness: (ready: Bool, reason: String)? {
        let waiting = self.unknownApps.withLock { $0 }
        guard let (app, entry) = waiting.min(by: { $0.key < $1.key }) else { return nil }
        let remaining = max(self.options.unknownAppTimeout - (ContinuousClock.now - entry.since), .zero)
        return (
            false,
            "holding a request for app \(app) (partition \(entry.partition)), which this worker's configuration\(self.options.cluster.map { " for cluster \($0)" } ?? "") does not have; dead-lettered in \(Int(remaining.seconds)) s unless a worker with it takes over"
        )
    }

    /// Reconciles owned apps on their timers until graceful shutdown; syncs in flight finish first.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                try? await Task.sleep(for: self.options.tick)
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                for (app, trigger) in self.engine.dueWork(among: self.ownedApps()) {
                    guard self.inProgress.withLock({ $0.insert(app.name).inserted }) else { continue }
                    self.engine.scheduleNextInterval(for: app, trigger: trigger)
                    group.addTask {
                        defer { _ = self.inProgress.withLock { $0.remove(app.name) } }
                        var events: [SyncEvent] = []
                        if case .health = trigger {
                            if let event = await self.engine.checkHealth(app) { events.append(event) }
                        } else {
                            if let event = await self.engine.sync(app, trigger: trigger) { events.append(event) }
                            if case .interval = trigger, let event = await self.engine.checkDrift(app) { events.append(event) }
                        }
                        var records: [KafkaProducerMessage] = []
                        for event in events {
                            do {
                                records.append(try self.message(for: event))
                            } catch {
                                self.logger.error("Cannot encode the sync event", metadata: ["app": "\(event.app)", "error": "\(error)"])
                            }
                        }
                        await self.producer.deliverUntilAcknowledged(records, logger: self.logger)
                    }
                }
            }
        }
    }

    // MARK: Requests

    func handle(_ message: KafkaConsumerMessage, context: ConsumerStageContext) async -> ConsumerStageOutcome {
        let event: CloudEvent
        let request: SyncRequest
        do {
            event = try CloudEvent(kafkaMessage: message)
            guard event.type == SyncRequest.eventType else { return .done([]) }
            request = try event.decodePayload(as: SyncRequest.self)
        } catch {
            return .deadLetter(reason: "undecodable sync request: \(error)")
        }
        guard let app = self.apps[request.app] else {
            if request.manual != nil {
                // Asked for by hand: answer at once (the asker waits) instead of holding the partition.
                return self.refuseManual(request, id: event.id)
            }
            return self.unknownApp(request, partition: message.partition)
        }
        self.checkPartitionCount(request, partition: message.partition)
        guard let result = await self.engine.sync(app, trigger: .request(request, id: event.id)) else {
            // Stopped before the suspensions could be read: not handled, so not committed.
            if !self.engine.controls.isLoaded { return .abandon }
            return .done([])
        }
        do {
            return .done([try self.message(for: result)])
        } catch {
            return .deadLetter(reason: "cannot encode the sync event: \(error)")
        }
    }

    /// A failed event for a sync by hand of an app this worker's configuration lacks.
    private func refuseManual(_ request: SyncRequest, id: String) -> ConsumerStageOutcome {
        let now = Date()
        var event = SyncEvent(
            app: request.app, project: "", repository: request.repository, ref: request.ref, revision: "", phase: .failed, trigger: "manual",
            destination: "", message: "app \(request.app) is not in the configuration of the workers\(self.options.cluster.map { " of cluster \($0)" } ?? "") that received the request",
            changeID: request.changeID, deliveryID: request.deliveryID, receivedAt: request.receivedAt, startedAt: now, finishedAt: now
        )
        event.cluster = request.cluster
        do {
            return .done([try self.message(for: event)])
        } catch {
            return .deadLetter(reason: "cannot encode the sync event: \(error)")
        }
    }

    /// Holds a request for an app this worker does not know — a configuration older or other
    /// than the planner's — without committing past it, then dead-letters it.
    private func unknownApp(_ request: SyncRequest, partition: KafkaPartition) -> ConsumerStageOutcome {
        let since = self.unknownApps.withLock { waiting in
            if let entry = waiting[request.app] { return entry.since }
            waiting[request.app] = (.now, partition)
            return .now
        }
        let waited = ContinuousClock.now - since
        let what = "app \(request.app)\(request.cluster.map { " (cluster \($0))" } ?? "") is not in this worker's configuration\(self.options.cluster.map { " for cluster \($0)" } ?? "")"
        if waited < self.options.unknownAppTimeout {
            return .retry(after: min(.seconds(1), self.options.unknownAppTimeout - waited), reason: what)
        }
        _ = self.unknownApps.withLock { $0.removeValue(forKey: request.app) }
        return .deadLetter(reason: "\(what) after waiting \(Int(waited.seconds)) s for one that has it")
    }

    /// A request tells the partition count it was placed with: it fills in a count the metadata
    /// lookup did not get, and a different one means the count changed.
    private func checkPartitionCount(_ request: SyncRequest, partition: KafkaPartition) {
        let known = self.partitionCount.withLock { count in
            defer { count = request.partitionCount }
            return count
        }
        guard known != request.partitionCount else { return }
        if let known {
            self.logger.warning(
                "Partition count of the requests topic changed: apps move between workers",
                metadata: ["topic": "\(self.requestsTopic)", "from": "\(known)", "to": "\(request.partitionCount)", "partition": "\(partition)"]
            )
        }
        self.engine.ownershipChanged(owned: self.ownedApps())
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

    // MARK: Ownership

    private func assignmentChanged(_ assignment: [KafkaTopicPartition]) async {
        let partitions = Set(assignment.filter { $0.topic == self.requestsTopic }.map(\.partition))
        self.assigned.withLock { $0 = partitions }
        // A held request of a partition that moved is the new owner's now.
        self.unknownApps.withLock { waiting in waiting = waiting.filter { partitions.contains($0.value.partition) } }
        if self.partitionCount.withLock({ $0 }) == nil {
            let count = try? await self.producer.partitionCounts(timeout: .seconds(10))[self.requestsTopic]
            self.partitionCount.withLock { $0 = count }
        }
        let owned = self.ownedApps()
        self.engine.ownershipChanged(owned: owned)
        self.logger.info("Partitions changed", metadata: ["partitions": "\(partitions.sorted().map(\.description).joined(separator: ","))", "apps": "\(owned.count)"])
    }

    /// Apps whose name hashes to a partition assigned to this worker: the partition their
    /// requests arrive on.
    func ownedApps() -> [AppSettings] {
        let (count, assigned) = (self.partitionCount.withLock { $0 }, self.assigned.withLock { $0 ?? [] })
        return self.engine.configuration.apps.filter { Self.owns($0, cluster: self.options.cluster, partitionCount: count, assigned: assigned) }
    }

    /// Whether `app` is this worker's: of its cluster, and hashed to one of its partitions.
    func owns(_ app: AppSettings) -> Bool {
        Self.owns(app, cluster: self.options.cluster, partitionCount: self.partitionCount.withLock { $0 }, assigned: self.assigned.withLock { $0 ?? [] })
    }

    private static func owns(_ app: AppSettings, cluster: String?, partitionCount: Int?, assigned: Set<KafkaPartition>) -> Bool {
        guard app.cluster == cluster, let partitionCount, partitionCount > 0 else { return false }
        return assigned.contains(KafkaPartitioner.partition(forKey: app.name, partitionCount: partitionCount))
    }
}
