import AsyncHTTPClient
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TributaryCore
import TributaryKafka

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
public final class NotificationDelivery: Service, Sendable {
    private let settings: NotificationSettings
    private let topics: TributaryTopics
    private let consumerConfiguration: KafkaConsumerConfiguration
    private let kafka: KafkaConfiguration
    private let producer: KafkaProducer
    private let sinks: [String: any NotificationSink]
    private let ledgers = Mutex<[KafkaPartition: DeliveryLedger]>([:])
    private let skippedOffsets = KafkaSkippedOffsets()
    private let stopping = Atomic<Bool>(false)
    public let metrics = NotifierMetrics()
    private let logger: Logger
    private let offsetsStored = Atomic<Bool>(false)

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
        self.consumerConfiguration = KafkaConsumerConfiguration(kafka: kafka, groupID: groupID, sessionTimeout: sessionTimeout)
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

    public func run() async throws {
        let consumer = try KafkaConsumer(configuration: self.consumerConfiguration, logger: self.logger)
        try consumer.subscribe(topics: [self.topics.notifications])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // A partition that moves may have been written by its other owner: read its ledger again.
                for await event in consumer.events {
                    switch event {
                    case .partitionsAssigned(let partitions):
                        if let committed = try? await consumer.committedOffsets(for: partitions.map { KafkaTopicPartition(topic: $0.topic, partition: $0.partition) }) {
                            self.skippedOffsets.forget(committed: committed)
                        }
                    case .partitionsRevoked(let partitions):
                        self.ledgers.withLock { ledgers in partitions.forEach { ledgers[$0.partition] = nil } }
                    }
                }
            }
            group.addTask {
                while !self.stopping.load(ordering: .relaxed) && !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    if self.offsetsStored.exchange(false, ordering: .relaxed) {
                        do { try await consumer.commit() } catch { self.offsetsStored.store(true, ordering: .relaxed) }
                    }
                }
            }
            // Stop the helper tasks and close the consumer whether delivery ended normally or not.
            var failure: (any Error)?
            do { try await self.deliverAll(from: consumer) } catch { failure = error }
            self.stopping.store(true, ordering: .relaxed)
            await consumer.close()
            if let failure { throw failure }
            try await group.waitForAll()
        }
    }

    private func deliverAll(from consumer: KafkaConsumer) async throws {
        try await consumer.forEachMessageByPartition { message in
            guard await self.handle(message, consumer: consumer) else {
                self.skippedOffsets.skip(message)
                return
            }
            guard self.skippedOffsets.mayStore(message) else { return }
            do {
                try consumer.storeOffset(message)
                self.offsetsStored.store(true, ordering: .relaxed)
            } catch {
                self.logger.debug("Offset not stored (partition moved)", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Whether work on `partition` should stop: it moved to another member, or the process is stopping.
    /// Work stopped this way is not committed, so the partition's next owner does it.
    private func abandons(_ partition: KafkaPartition, _ consumer: KafkaConsumer) -> Bool {
        Task.isShuttingDownGracefully || !consumer.isAssigned(topic: self.topics.notifications, partition: partition)
    }

    /// Returns whether the message is done with (its offset may be committed). Returns false only
    /// when the partition is abandoned, so no later message of it is committed past this one.
    private func handle(_ message: KafkaConsumerMessage, consumer: KafkaConsumer) async -> Bool {
        if self.abandons(message.partition, consumer) { return false }
        let event: CloudEvent
        let notification: NotificationEvent
        do {
            event = try CloudEvent(kafkaMessage: message)
            notification = try event.decodePayload(as: NotificationEvent.self)
        } catch {
            await self.deadLetter(message, reason: "undecodable notification event: \(error)")
            return true
        }
        let key = notification.deduplicationKey
        var loaded = await self.ledger(for: message.partition, consumer: consumer)
        while loaded == nil {
            if self.abandons(message.partition, consumer) { return false }
            try? await Task.sleep(for: .seconds(1))
            loaded = await self.ledger(for: message.partition, consumer: consumer)
        }
        let ledger = loaded!
        if ledger.contains(key) {
            self.metrics.record("duplicate")
            self.logger.debug("Notification already delivered", metadata: ["notification": "\(key)"])
            return true
        }
        if let minInterval = self.settings.trigger(named: notification.trigger)?.minInterval,
           let last = ledger.lastDelivered(sink: notification.sink, app: notification.app, trigger: notification.trigger),
           Date().timeIntervalSince(last) < minInterval.seconds {
            self.metrics.record("suppressed")
            return await self.record(consumer: consumer, .suppressed, for: notification, partition: message.partition, ledger: ledger)
        }
        guard let sink = self.sinks[notification.sink] else {
            await self.deadLetter(message, reason: "no sink named \(notification.sink) in this configuration")
            return await self.record(consumer: consumer, .deadLettered, for: notification, partition: message.partition, ledger: ledger)
        }
        let configuration = self.settings.sink(named: notification.sink)!
        var attempt = 0
        while true {
            attempt += 1
            if self.abandons(message.partition, consumer) { return false }
            do {
                try await sink.deliver(notification, as: event)
                self.metrics.record("delivered")
                self.logger.info("Notification delivered", metadata: ["notification": "\(key)", "attempt": "\(attempt)"])
                return await self.record(consumer: consumer, .delivered, for: notification, partition: message.partition, ledger: ledger)
            } catch {
                let failure = error as? DeliveryFailure ?? DeliveryFailure(message: "\(type(of: error))", isRetryable: true)
                guard failure.isRetryable, attempt <= configuration.retryLimit else {
                    self.metrics.record("dead-lettered")
                    let reason = "\(failure.message) after \(attempt) attempt\(attempt == 1 ? "" : "s")"
                    await self.deadLetter(message, reason: reason)
                    return await self.record(consumer: consumer, .deadLettered, for: notification, partition: message.partition, ledger: ledger)
                }
                let backoff = min(configuration.retryBackoff * (1 << min(attempt - 1, 20)), configuration.retryMaxBackoff)
                let wait = failure.retryAfter.map { min($0, .seconds(300)) } ?? backoff
                self.metrics.record("retried")
                self.logger.warning("Notification delivery failed; retrying", metadata: ["notification": "\(key)", "attempt": "\(attempt)", "error": "\(failure.message)", "wait": "\(wait)"])
                // Sleep in short steps, so shutdown or a moved partition does not wait out a long backoff.
                let deadline = ContinuousClock.now + wait
                while ContinuousClock.now < deadline {
                    if self.abandons(message.partition, consumer) { return false }
                    try? await Task.sleep(for: min(.milliseconds(100), deadline - ContinuousClock.now))
                }
            }
        }
    }

    /// Appends the outcome to the ledger and waits for the ack, trying again while the broker is
    /// away. Returns false only when the partition is abandoned (the next owner may send again).
    private func record(consumer: KafkaConsumer, _ outcome: DeliveryLedger.Outcome, for notification: NotificationEvent, partition: KafkaPartition, ledger: DeliveryLedger) async -> Bool {
        let entry = DeliveryLedger.Entry(sink: notification.sink, app: notification.app, trigger: notification.trigger, revision: notification.revision, outcome: outcome, at: Date())
        ledger.add(notification.deduplicationKey, entry)  // this member will not send it again either way
        while true {
            do {
                let value = Array(try TributaryJSON.encode(entry))
                _ = try await self.producer.deliver(KafkaProducerMessage(topic: self.topics.delivered, partition: partition, key: notification.deduplicationKey, value: value))
                return true
            } catch {
                self.logger.warning("Delivery ledger not written; trying again", metadata: ["error": "\(error)"])
                if self.abandons(partition, consumer) { return false }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// The partition's ledger, read to its end the first time the partition is seen.
    private func ledger(for partition: KafkaPartition, consumer: KafkaConsumer) async -> DeliveryLedger? {
        if let ledger = self.ledgers.withLock({ $0[partition] }) { return ledger }
        do {
            let ledger = try await DeliveryLedger.load(topic: self.topics.delivered, partition: partition, kafka: self.kafka, logger: self.logger)
            // Read while the partition moved away: it may be out of date by the time it comes back.
            guard consumer.isAssigned(topic: self.topics.notifications, partition: partition) else { return nil }
            self.ledgers.withLock { $0[partition] = ledger }
            return ledger
        } catch {
            self.logger.warning("Cannot read the delivery ledger", metadata: ["partition": "\(partition)", "error": "\(error)"])
            try? await Task.sleep(for: .seconds(1))
            return nil
        }
    }

    /// Copies the record — CloudEvent headers included — to `<prefix>.dlq`, with the reason.
    private func deadLetter(_ original: KafkaConsumerMessage, reason: String) async {
        self.logger.error("Notification moved to the dead-letter topic", metadata: ["reason": "\(reason)"])
        let message = KafkaProducerMessage(
            topic: self.topics.deadLetters,
            key: original.key,
            value: original.value,
            headers: original.headers + [
                KafkaHeader(key: "tributary_dlq_reason", value: reason),
                KafkaHeader(key: "tributary_dlq_source", value: "\(original.topic)/\(original.partition)/\(original.offset)"),
            ]
        )
        for attempt in 1...5 {
            do {
                _ = try await self.producer.deliver(message)
                return
            } catch {
                self.logger.warning("Dead letter not written", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
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
