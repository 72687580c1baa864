import Foundation
import Logging
import ServiceLifecycle
import TributaryCore
import TributaryKafka

/// Reads all of `<prefix>.controls` into `AppControls` — first to the end it has at start (then
/// syncs may run), then as it grows, so `tributary suspend` reaches every worker within a poll.
///
/// Every worker reads every partition (manual assignment in a throwaway group that never commits):
/// an app's control must be known to whichever worker owns it after a rebalance.
public final class AppControlReader: Service, Sendable {
    private let topic: String
    private let engine: SyncEngine
    private var controls: AppControls { self.engine.controls }
    private let kafka: KafkaConfiguration
    private let logger: Logger

    public init(topic: String, engine: SyncEngine, kafka: KafkaConfiguration, logger: Logger) {
        self.topic = topic
        self.engine = engine
        self.kafka = kafka
        self.logger = logger
    }

    public func run() async throws {
        var backoff = Duration.milliseconds(500)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await self.read()
                return
            } catch is CancellationError {
                return
            } catch {
                // Syncs wait meanwhile: a worker that cannot tell whether an app is suspended must not sync it.
                self.logger.warning("Cannot read the app controls; syncs wait until they are read", metadata: ["topic": "\(self.topic)", "error": "\(error)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(10))
            }
        }
    }

    private func read() async throws {
        var configuration = KafkaConsumerConfiguration(kafka: self.kafka, groupID: "tributary-controls-reader-\(UUID().uuidString.prefix(8).lowercased())")
        configuration.autoOffsetReset = .earliest
        let reader = try KafkaConsumer(configuration: configuration, logger: self.logger)
        do {
            guard let partitions = try await reader.partitionCounts(timeout: .seconds(10))[self.topic] else {
                throw KafkaError(code: .unknownTopicOrPartition, message: "topic \(self.topic) does not exist; create it (compacted) beside the other Tributary topics")
            }
            var remaining: [KafkaPartition: Int64] = [:]
            for index in 0..<partitions {
                let partition = KafkaPartition(index)
                let (low, high) = try await reader.watermarks(topic: self.topic, partition: partition)
                if high.rawValue > low.rawValue { remaining[partition] = high.rawValue - 1 }
            }
            try reader.assign((0..<partitions).map { KafkaTopicPartition(topic: self.topic, partition: KafkaPartition($0), offset: .beginning) })
            if remaining.isEmpty { self.loaded() }
            for try await message in reader.messages.cancelOnGracefulShutdown() {
                if let value = message.value {
                    do {
                        let control = try TributaryJSON.decode(AppControl.self, from: Data(value))
                        if self.controls.apply(control) {
                            self.logger.info(control.suspended ? "App suspended" : "App resumed", metadata: ["app": "\(control.app)", "by": "\(control.by ?? "")"])
                            self.engine.controlChanged(control.app)
                        }
                    } catch {
                        self.logger.warning("Skipping an unreadable app control", metadata: ["offset": "\(message.partition)/\(message.offset)", "error": "\(error)"])
                    }
                }
                if let last = remaining[message.partition], message.offset.rawValue >= last {
                    remaining[message.partition] = nil
                    if remaining.isEmpty { self.loaded() }
                }
            }
        } catch {
            await reader.close()
            throw error
        }
        await reader.close()
    }

    private func loaded() {
        guard !self.controls.isLoaded else { return }
        self.controls.markLoaded()
        self.logger.debug("App controls read", metadata: ["topic": "\(self.topic)"])
    }
}
