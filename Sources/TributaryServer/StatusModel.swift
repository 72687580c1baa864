import Foundation
import Logging
import Synchronization
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding
import TributaryStage

/// The read model, shared by the reader that fills it and the HTTP handlers that read it, with a
/// live feed of sync events for server-sent-event streams.
public final class StatusModel: Sendable {
    private let state: Mutex<StatusState>
    private let subscribers = Mutex<[UUID: AsyncStream<SyncSummary>.Continuation]>([:])
    private let loaded = Mutex(false)
    private let follower = Mutex<TopicFollower?>(nil)

    public init(state: StatusState) {
        self.state = Mutex(state)
    }

    public func read<Result>(_ body: (StatusState) -> Result) -> Result {
        self.state.withLock { body($0) }
    }

    /// Whether the topics have been read to the end they had at start (then answers are complete).
    public var isLoaded: Bool { self.loaded.withLock { $0 } }

    func markLoaded() { self.loaded.withLock { $0 = true } }

    /// Applies one record of the changes, sync, notifications or delivered topic; others are ignored.
    public func apply(_ message: KafkaConsumerMessage, topics: TributaryTopics) {
        if message.topic == topics.delivered {
            guard let value = message.value, let key = message.keyString, let record = try? TributaryJSON.decode(DeliveryRecord.self, from: Data(value)) else { return }
            self.state.withLock { $0.apply(delivered: record, key: key) }
            return
        }
        guard let event = try? CloudEvent(kafkaMessage: message) else { return }
        switch message.topic {
        case topics.changes where event.type == ChangeEvent.eventType:
            guard let change = try? event.decodePayload(as: ChangeEvent.self) else { return }
            self.state.withLock { $0.apply(change: change, id: event.id) }
        case topics.sync where event.type.hasPrefix("dev.tributary.sync."):
            guard let sync = try? event.decodePayload(as: SyncEvent.self) else { return }
            self.state.withLock { $0.apply(sync: sync, id: event.id) }
            // Live views get what happens now, not the replay of the topics (nor a reader's second pass).
            guard self.isLoaded else { return }
            let summary = SyncSummary(id: event.id, sync)
            for continuation in self.subscribers.withLock({ Array($0.values) }) { continuation.yield(summary) }
        case topics.notifications where event.type == NotificationEvent.eventType:
            guard let notification = try? event.decodePayload(as: NotificationEvent.self) else { return }
            self.state.withLock { $0.apply(notification: notification) }
        default:
            return
        }
    }

    /// Sync events from now on, until the stream is dropped. A slow reader loses the oldest.
    public func events() -> AsyncStream<SyncSummary> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<SyncSummary>.makeStream(bufferingPolicy: .bufferingNewest(256))
        continuation.onTermination = { [weak self] _ in _ = self?.subscribers.withLock { $0.removeValue(forKey: id) } }
        self.subscribers.withLock { $0[id] = continuation }
        return stream
    }

    /// The service that fills the model from the topics: every partition of each, from the beginning.
    /// The last one made reports its lag on the server's `/metrics`.
    public func reader(topics: TributaryTopics, kafka: KafkaConfiguration, logger: Logger) -> TopicFollower {
        let follower = TopicFollower(
            topics: [topics.changes, topics.sync, topics.notifications, topics.delivered], kafka: kafka, name: "status-reader", logger: logger,
            handle: { [self] message in self.apply(message, topics: topics) },
            caughtUp: { [self] in
                self.markLoaded()
                logger.info("Status rebuilt from the topics")
            }
        )
        self.follower.withLock { $0 = follower }
        return follower
    }

    /// The reader's `tributary_consumer_lag`.
    func renderLag() -> String {
        self.follower.withLock { $0 }?.renderLag() ?? ""
    }
}
