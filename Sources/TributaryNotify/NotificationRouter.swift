import Foundation
import Logging
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding
import TributaryStage

/// Stage one of the notifier: reads sync events as the `tributary-notifier` group, evaluates
/// triggers and subscriptions, and publishes one notification event per (sink, app, trigger,
/// revision) to `<prefix>.notifications`, keyed `sink/app`. Delivery — stage two — happens in
/// `NotificationDelivery`, so each sink retries on its own and the work scales out.
public final class NotificationRouter: Sendable {
    private let settings: NotificationSettings
    private let topics: TributaryTopics
    private let producer: KafkaProducer
    private let groupID: String
    private let sessionTimeout: Duration
    private let logger: Logger

    public init(settings: NotificationSettings, topics: TributaryTopics, producer: KafkaProducer, groupID: String = "tributary-notifier", sessionTimeout: Duration = .seconds(10), logger: Logger) {
        self.settings = settings
        self.topics = topics
        self.producer = producer
        self.groupID = groupID
        self.sessionTimeout = sessionTimeout
        self.logger = logger
    }

    /// The consumer stage that runs the router: run it as a service, after the producer.
    public func makeStage(kafka: KafkaConfiguration) -> ConsumerStage {
        var options = ConsumerStage.Options(name: "router", groupID: self.groupID, topics: [self.topics.sync], deadLetterTopic: self.topics.deadLetters)
        options.sessionTimeout = self.sessionTimeout
        return ConsumerStage(options: options, kafka: kafka, producer: self.producer, logger: self.logger) { message, _ in self.route(message) }
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
                    let key = notification.deduplicationKey
                    if result[key] == nil { result[key] = notification }
                }
            }
        }
        return result.values.sorted { $0.deduplicationKey < $1.deduplicationKey }
    }

    /// The notification records a sync event causes; each is keyed `sink/app`.
    func route(_ message: KafkaConsumerMessage) -> ConsumerStageOutcome {
        let event: CloudEvent
        let sync: SyncEvent
        do {
            event = try CloudEvent(kafkaMessage: message)
            guard event.type.hasPrefix("dev.tributary.sync."), event.type != SyncRequest.eventType else { return .done([]) }
            sync = try event.decodePayload(as: SyncEvent.self)
        } catch {
            return .deadLetter(reason: "undecodable sync event: \(error)")
        }
        do {
            return .done(try Self.notifications(for: sync, eventID: event.id, settings: self.settings).map { notification in
                let cloudEvent = try CloudEvent(
                    id: notification.deduplicationKey,
                    source: "tributary/notifier",
                    type: NotificationEvent.eventType,
                    subject: notification.app,
                    payload: notification
                )
                return cloudEvent.kafkaMessage(topic: self.topics.notifications, key: "\(notification.sink)/\(notification.app)")
            })
        } catch {
            return .deadLetter(reason: "cannot encode notifications: \(error)")
        }
    }
}
