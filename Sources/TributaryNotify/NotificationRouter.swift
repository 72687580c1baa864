import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TributaryCore
import TributaryKafka

/// Stage one of the notifier: reads sync events as the `tributary-notifier` group, evaluates
/// triggers and subscriptions, and publishes one notification event per (sink, app, trigger,
/// revision) to `<prefix>.notifications`, keyed `sink/app`. Delivery — stage two — happens in
/// `NotificationDelivery`, so each sink retries on its own and the work scales out.
public final class NotificationRouter: Service, Sendable {
    private let settings: NotificationSettings
    private let topics: TributaryTopics
    private let consumerConfiguration: KafkaConsumerConfiguration
    private let producer: KafkaProducer
    private let logger: Logger
    private let offsetsStored = Atomic<Bool>(false)

    public init(settings: NotificationSettings, topics: TributaryTopics, kafka: KafkaConfiguration, producer: KafkaProducer, groupID: String = "tributary-notifier", sessionTimeout: Duration = .seconds(10), logger: Logger) {
        self.settings = settings
        self.topics = topics
        self.consumerConfiguration = KafkaConsumerConfiguration(kafka: kafka, groupID: groupID, sessionTimeout: sessionTimeout)
        self.producer = producer
        self.logger = logger
    }

    /// The notifications a sync event causes: pure, so it is tested without Kafka.
    public static func notifications(for sync: SyncEvent, eventID: String, settings: NotificationSettings) -> [NotificationEvent] {
        var result: [String: NotificationEvent] = [:]
        for subscription in settings.subscriptions where subscription.covers(app: sync.app, project: sync.project) {
            for triggerName in subscription.triggers {
                guard let trigger = settings.trigger(named: triggerName), trigger.phase == sync.phase else { continue }
                if let condition = trigger.when, !condition.matches(sync) { continue }
                for sink in subscription.sinks {
                    let notification = NotificationEvent(sink: sink, app: sync.app, trigger: triggerName, revision: sync.revision, syncEventID: eventID, sync: sync)
                    // Two subscriptions naming the same sink and trigger still make one notification.
                    result[notification.deduplicationKey] = result[notification.deduplicationKey] ?? notification
                }
            }
        }
        return result.values.sorted { $0.deduplicationKey < $1.deduplicationKey }
    }

    public func run() async throws {
        let consumer = try KafkaConsumer(configuration: self.consumerConfiguration, logger: self.logger)
        try consumer.subscribe(topics: [self.topics.sync])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    if self.offsetsStored.exchange(false, ordering: .relaxed) {
                        do { try await consumer.commit() } catch { self.offsetsStored.store(true, ordering: .relaxed) }
                    }
                }
            }
            for try await message in consumer.messages.cancelOnGracefulShutdown() {
                guard await self.route(message) else { break }  // cancelled mid-way: leave it uncommitted
                do {
                    try consumer.storeOffset(message)
                    self.offsetsStored.store(true, ordering: .relaxed)
                } catch {
                    self.logger.debug("Offset not stored (partition moved)", metadata: ["error": "\(error)"])
                }
            }
            group.cancelAll()
        }
        await consumer.close()
    }

    /// Returns false when cancelled before every notification was acknowledged.
    private func route(_ message: KafkaConsumerMessage) async -> Bool {
        let event: CloudEvent
        let sync: SyncEvent
        do {
            event = try CloudEvent(kafkaMessage: message)
            guard event.type.hasPrefix("dev.tributary.sync.") else { return true }
            sync = try event.decodePayload(as: SyncEvent.self)
        } catch {
            self.logger.warning("Ignoring an undecodable sync event", metadata: ["offset": "\(message.offset)", "error": "\(error)"])
            return true
        }
        for notification in Self.notifications(for: sync, eventID: event.id, settings: self.settings) {
            var delay: Duration = .milliseconds(200)
            while true {
                do {
                    let cloudEvent = try CloudEvent(
                        id: notification.deduplicationKey,
                        source: "tributary/notifier",
                        type: NotificationEvent.eventType,
                        subject: notification.app,
                        payload: notification
                    )
                    _ = try await self.producer.deliver(cloudEvent.kafkaMessage(topic: self.topics.notifications, key: "\(notification.sink)/\(notification.app)"))
                    break
                } catch {
                    // The sync event's offset is stored only after every notification is acknowledged.
                    self.logger.warning("Notification not acknowledged; retrying", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: delay)
                    delay = min(delay * 2, .seconds(5))
                    if Task.isCancelled { return false }
                }
            }
        }
        return true
    }
}
