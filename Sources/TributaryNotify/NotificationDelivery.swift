import AsyncHTTPClient
import Foundation
import Logging
import Synchronization
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding
import TributaryStage

/// Stage two of the notifier: delivers notification events, as the
/// `tributary-notification-delivery` group, at most once per (sink, app, trigger, revision).
///
/// How "once" holds across replicas, restarts and redelivery: notifications are keyed
/// `sink/app`, so all of one sink and app arrive on one partition, owned by one group member at a
/// time. After delivering (or dead-lettering) a notification, the owner appends a record keyed by
/// its deduplication key to the same partition number of `<prefix>.delivered` (a compacted
/// topic) and waits for the ack before committing the notification's offset. A member that gains
/// a partition first reads that ledger partition to its end. So a redelivered notification, or
/// one published twice by the router, finds its record and is dropped. The one remaining window
/// is a member dying after the receiver accepted a message but before the ledger record was
/// acknowledged — no system can close that without the receiver's help; webhook receivers get a
/// stable `webhook-id` and emails a stable `Message-ID` to recognise it.
public final class NotificationDelivery: Sendable {
    private let settings: NotificationSettings
    private let topics: TributaryTopics
    private let kafka: KafkaConfiguration
    private let producer: KafkaProducer
    private let groupID: String
    private let sessionTimeout: Duration
    private let sinks: [String: any NotificationSink]
    private let ledgers = Mutex<[KafkaPartition: DeliveryLedger]>([:])
    /// One ledger load per partition at a time: notifications of several sinks and apps share a partition.
    private let ledgerLoads = KeyedAsyncLock()
    public let metrics = NotifierMetrics()
    private let logger: Logger

    /// - Throws: `NotifierSetupError` for a template that does not parse.
    public init(
        configuration: TributaryConfiguration,
        kafka: KafkaConfiguration,
        producer: KafkaProducer,
        httpClient: HTTPClient = .shared,
        groupID: String = "tributary-notification-delivery",
        sessionTimeout: Duration = .seconds(10),
        logger: Logger
    ) throws {
        self.settings = configuration.notifications
        self.topics = configuration.kafka.topics
        self.groupID = groupID
        self.sessionTimeout = sessionTimeout
        self.kafka = kafka
        self.producer = producer
        self.logger = logger
        let templates = try NotificationTemplates(configuration.notifications.templates, file: configuration.file)
        let poster = HTTPPoster(client: httpClient, timeout: .seconds(10))
        var sinks: [String: any NotificationSink] = [:]
        for sink in configuration.notifications.sinks {
            sinks[sink.name] = try Self.makeSink(sink, templates: templates, poster: poster)
        }
        self.sinks = sinks
    }

    /// The consumer stage that runs delivery: run it as a service, after the producer.
    public func makeStage() -> ConsumerStage {
        var options = ConsumerStage.Options(name: "delivery", groupID: self.groupID, topics: [self.topics.notifications], deadLetterTopic: self.topics.deadLetters)
        options.sessionTimeout = self.sessionTimeout
        return ConsumerStage(
            options: options, kafka: self.kafka, producer: self.producer, logger: self.logger,
            onRebalance: { assignment in
                // A partition that moved may have been written by its other owner: read its ledger again.
                let held = Set(assignment.filter { $0.topic == self.topics.notifications }.map(\.partition))
                self.ledgers.withLock { ledgers in ledgers = ledgers.filter { held.contains($0.key) } }
            },
            handler: { await self.handle($0, context: $1) }
        )
    }

    /// One notification: dropped when the ledger has it, else sent (retried by the stage while
    /// the sink fails and may recover) and recorded in the ledger — the record is what the stage
    /// publishes, so the notification is committed only once its ledger record is acknowledged.
    func handle(_ message: KafkaConsumerMessage, context: ConsumerStageContext) async -> ConsumerStageOutcome {
        let event: CloudEvent
        let notification: NotificationEvent
        do {
            event = try CloudEvent(kafkaMessage: message)
            notification = try event.decodePayload(as: NotificationEvent.self)
        } catch {
            return .deadLetter(reason: "undecodable notification event: \(error)")
        }
        let key = notification.deduplicationKey
        guard let ledger = await self.ledger(for: message.partition, context: context) else {
            return context.isCurrent ? .retry(after: .seconds(1), reason: "the delivery ledger cannot be read") : .abandon
        }
        if ledger.contains(key) {
            self.metrics.record("duplicate")
            self.logger.debug("Notification already delivered", metadata: ["notification": "\(key)"])
            return .done([])
        }
        if let minInterval = self.settings.trigger(named: notification.trigger)?.minInterval,
           let last = ledger.lastDelivered(sink: notification.sink, app: notification.app, trigger: notification.trigger),
           Date().timeIntervalSince(last) < minInterval.seconds {
            self.metrics.record("suppressed")
            return .done([self.record(.suppressed, for: notification, partition: message.partition, ledger: ledger)])
        }
        guard let sink = self.sinks[notification.sink], let configuration = self.settings.sink(named: notification.sink) else {
            return .deadLetter(
                reason: "no sink named \(notification.sink) in this configuration",
                alsoPublishing: [self.record(.deadLettered, for: notification, partition: message.partition, ledger: ledger)]
            )
        }
        let attempt = context.attempt
        do {
            try await sink.deliver(notification, as: event)
            self.metrics.record("delivered")
            self.logger.info("Notification delivered", metadata: ["notification": "\(key)", "attempt": "\(attempt)"])
            return .done([self.record(.delivered, for: notification, partition: message.partition, ledger: ledger)])
        } catch {
            let failure = error as? DeliveryFailure ?? DeliveryFailure(message: "\(type(of: error))", isRetryable: true)
            guard failure.isRetryable, attempt <= configuration.retryLimit else {
                self.metrics.record("dead-lettered")
                return .deadLetter(
                    reason: "\(failure.message) after \(attempt) attempt\(attempt == 1 ? "" : "s")",
                    alsoPublishing: [self.record(.deadLettered, for: notification, partition: message.partition, ledger: ledger)]
                )
            }
            let backoff = min(configuration.retryBackoff * (1 << min(attempt - 1, 20)), configuration.retryMaxBackoff)
            self.metrics.record("retried")
            return .retry(after: failure.retryAfter.map { min($0, .seconds(300)) } ?? backoff, reason: "\(notification.sink): \(failure.message)")
        }
    }

    /// The ledger record of an outcome, to the ledger partition of the notification's partition.
    /// Added to this member's ledger at once: it will not send the notification again either way.
    private func record(_ outcome: DeliveryLedger.Outcome, for notification: NotificationEvent, partition: KafkaPartition, ledger: DeliveryLedger) -> KafkaProducerMessage {
        let entry = DeliveryLedger.Entry(sink: notification.sink, app: notification.app, trigger: notification.trigger, revision: notification.revision, outcome: outcome, at: Date())
        ledger.add(notification.deduplicationKey, entry)
        // Encoding a struct of strings and a date cannot fail.
        let value = Array((try? TributaryJSON.encode(entry)) ?? Data())
        return KafkaProducerMessage(topic: self.topics.delivered, partition: partition, key: notification.deduplicationKey, value: value)
    }

    /// The partition's ledger, read to its end the first time the partition is seen.
    private func ledger(for partition: KafkaPartition, context: ConsumerStageContext) async -> DeliveryLedger? {
        if let ledger = self.ledgers.withLock({ $0[partition] }) { return ledger }
        return await self.ledgerLoads.withLock(partition.description) { await self.loadLedger(for: partition, context: context) }
    }

    private func loadLedger(for partition: KafkaPartition, context: ConsumerStageContext) async -> DeliveryLedger? {
        if let ledger = self.ledgers.withLock({ $0[partition] }) { return ledger }  // loaded while this waited
        do {
            let ledger = try await DeliveryLedger.load(topic: self.topics.delivered, partition: partition, kafka: self.kafka, logger: self.logger)
            // Read while the partition moved away: it may be out of date by the time it comes back.
            guard context.isCurrent else { return nil }
            self.ledgers.withLock { $0[partition] = ledger }
            return ledger
        } catch {
            self.logger.warning("Cannot read the delivery ledger", metadata: ["partition": "\(partition)", "error": "\(error)"])
            return nil
        }
    }

    static func makeSink(_ sink: SinkSettings, templates: NotificationTemplates, poster: HTTPPoster) throws -> any NotificationSink {
        switch sink.kind {
        case .slack(let url):
            return SlackSink(name: sink.name, url: try Self.resolve(url, sink: sink.name), templates: templates, poster: poster)
        case .webhook(let url, let secret):
            let key = try secret.map { WebhookSink.signingKey(fromSecret: try Self.resolve($0, sink: sink.name)) }
            return WebhookSink(name: sink.name, url: try Self.resolve(url, sink: sink.name), signingKey: key, poster: poster)
        case .email(let email):
            return EmailSink(name: sink.name, settings: email, templates: templates)
        }
    }

    private static func resolve(_ reference: SecretReference, sink: String) throws -> String {
        do {
            return try reference.resolve()
        } catch {
            throw NotifierSetupError(message: "sink \(sink): \(error)")
        }
    }
}
