import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding

/// Starts a worker's git fetch as soon as a push is announced on `<prefix>.changes`, in parallel
/// with the planner's, so the sync request that follows finds the commit in the worker's mirror:
/// push→applied waits for one git round trip instead of two in a row.
///
/// A hint, not a stage: it reads in a consumer group of its own (`tributary-prefetch-<uuid>`:
/// every worker sees every push),
/// from the newest record, and commits nothing. A missed hint costs latency, never a change —
/// the request's own fetch still runs when the mirror lacks the commit.
public final class ChangePrefetcher: Service, Sendable {
    private let topics: TributaryTopics
    private let engine: SyncEngine
    private let kafka: KafkaConfiguration
    private let logger: Logger
    private let owns: @Sendable (AppSettings) -> Bool
    /// Prefetches per repository, at most two (one fetching, one queued on the mirror behind it):
    /// a fetch brings every push announced before it started.
    private let pending = Mutex<[String: Int]>([:])

    /// - Parameters:
    ///   - owns: whether an app's requests come to this worker; only their repositories are fetched.
    public init(topics: TributaryTopics, engine: SyncEngine, kafka: KafkaConfiguration, logger: Logger, owns: @escaping @Sendable (AppSettings) -> Bool) {
        self.topics = topics
        self.engine = engine
        self.kafka = kafka
        self.logger = logger
        self.owns = owns
    }

    public func run() async throws {
        let group = "tributary-prefetch-\(UUID().uuidString.lowercased())"
        var configuration = KafkaConsumerConfiguration(kafka: self.kafka, groupID: group, sessionTimeout: .seconds(10))
        configuration.autoOffsetReset = .latest
        let consumer = try KafkaConsumer(configuration: configuration, logger: self.logger)
        try consumer.subscribe(topics: [self.topics.changes])
        await withDiscardingTaskGroup { tasks in
            do {
                for try await message in consumer.messages.cancelOnGracefulShutdown() {
                    guard let event = try? CloudEvent(kafkaMessage: message), event.type == ChangeEvent.eventType,
                          let change = try? event.decodePayload(as: ChangeEvent.self)
                    else { continue }  // not a push: the planner dead-letters what it cannot read
                    let key = change.repository.key
                    guard !Task.isShuttingDownGracefully, self.engine.configuration.apps(following: change).contains(where: self.owns),
                          self.pending.withLock({ pending in
                              guard pending[key, default: 0] < 2 else { return false }
                              pending[key, default: 0] += 1
                              return true
                          })
                    else { continue }
                    tasks.addTask {
                        defer {
                            self.pending.withLock { pending in
                                pending[key, default: 1] -= 1
                                if pending[key] == 0 { pending[key] = nil }
                            }
                        }
                        await self.engine.prefetch(change, for: self.owns)
                    }
                }
            } catch {
                self.logger.warning("Change prefetch stopped", metadata: ["error": "\(error)"])
            }
        }
        await consumer.close()
    }
}
