import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TributaryKafka

/// Reads every partition of some topics from their beginning — first to the end they had when
/// reading began (then `caughtUp` is called once), then as they grow — for state every process
/// rebuilds from Kafka (app controls, the status read model). Manual assignment in a throwaway
/// group that never commits: each reader sees every record, and a restarted one starts over.
///
/// Missing topics and broker errors are retried with backoff; `caughtUp` waits for them.
public final class TopicFollower: Service, Sendable {
    private let topics: [String]
    private let kafka: KafkaConfiguration
    private let name: String
    private let logger: Logger
    private let handle: @Sendable (KafkaConsumerMessage) -> Void
    private let caughtUp: @Sendable () -> Void
    private let lag = Mutex<[String: Int64]>([:])

    /// - Parameters:
    ///   - name: names the throwaway consumer group (`tributary-<name>-<random>`) and log lines.
    ///   - handle: called for every record, in order per partition; it must not block.
    ///   - caughtUp: called once, when every record there was at the start has been handled.
    public init(
        topics: [String], kafka: KafkaConfiguration, name: String, logger: Logger,
        handle: @escaping @Sendable (KafkaConsumerMessage) -> Void, caughtUp: @escaping @Sendable () -> Void
    ) {
        self.topics = topics
        self.kafka = kafka
        self.name = name
        self.logger = logger
        self.handle = handle
        self.caughtUp = caughtUp
    }

    /// `tributary_consumer_lag` for this reader (group `tributary-<name>`): records not yet read,
    /// measured every 5 s.
    public func renderLag() -> String {
        ConsumerStage.renderLag(group: "tributary-\(self.name)", self.lag.withLock { $0 })
    }

    public func run() async throws {
        var backoff = Duration.milliseconds(500)
        var announced = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await self.follow(announced: &announced)
                return
            } catch is CancellationError {
                return
            } catch {
                self.logger.warning("Cannot read \(self.name) topics; retrying", metadata: ["topics": "\(self.topics.joined(separator: ","))", "error": "\(error)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(10))
            }
        }
    }

    private func follow(announced: inout Bool) async throws {
        var configuration = KafkaConsumerConfiguration(kafka: self.kafka, groupID: "tributary-\(self.name)-\(UUID().uuidString.prefix(8).lowercased())")
        configuration.autoOffsetReset = .earliest
        let reader = try KafkaConsumer(configuration: configuration, logger: self.logger)
        do {
            let counts = try await reader.partitionCounts(timeout: .seconds(10))
            var assignment: [KafkaTopicPartition] = []
            // The last offset of each partition at the start; caught up when all are handled.
            var remaining: [String: Int64] = [:]
            for topic in self.topics {
                guard let partitions = counts[topic] else {
                    throw KafkaError(code: .unknownTopicOrPartition, message: "topic \(topic) does not exist; create it beside the other Tributary topics")
                }
                for index in 0..<partitions {
                    let partition = KafkaPartition(index)
                    let (low, high) = try await reader.watermarks(topic: topic, partition: partition)
                    if high.rawValue > low.rawValue { remaining["\(topic)/\(index)"] = high.rawValue - 1 }
                    assignment.append(KafkaTopicPartition(topic: topic, partition: partition, offset: .beginning))
                }
            }
            try reader.assign(assignment)
            func arrived() {
                guard !announced else { return }
                announced = true
                self.caughtUp()
            }
            if remaining.isEmpty { arrived() }
            let measuring = Task {
                while !Task.isCancelled {
                    if let lag = try? await reader.lag(committed: false) { self.lag.withLock { $0 = lag } }
                    try? await Task.sleep(for: .seconds(5))
                }
            }
            defer { measuring.cancel() }
            for try await message in reader.messages.cancelOnGracefulShutdown() {
                self.handle(message)
                let key = "\(message.topic)/\(message.partition.rawValue)"
                if let last = remaining[key], message.offset.rawValue >= last {
                    remaining[key] = nil
                    if remaining.isEmpty { arrived() }
                }
            }
        } catch {
            await reader.close()
            throw error
        }
        await reader.close()
    }
}
