import Foundation
import Logging
import Synchronization
import TributaryCore
import TributaryKafka

/// One partition of `<prefix>.delivered`: which notifications are done, and when each (sink,
/// app, trigger) was last delivered (for `minInterval`).
final class DeliveryLedger: Sendable {
    typealias Outcome = DeliveryRecord.Outcome
    typealias Entry = DeliveryRecord

    private struct State {
        var done: Set<String> = []
        var lastDelivered: [String: Date] = [:]
    }

    private let state = Mutex(State())

    func contains(_ key: String) -> Bool {
        self.state.withLock { $0.done.contains(key) }
    }

    func lastDelivered(sink: String, app: String, trigger: String) -> Date? {
        self.state.withLock { $0.lastDelivered["\(sink)/\(app)/\(trigger)"] }
    }

    func add(_ key: String, _ entry: Entry) {
        self.state.withLock { state in
            state.done.insert(key)
            if entry.outcome == .delivered {
                let slot = "\(entry.sink)/\(entry.app)/\(entry.trigger)"
                state.lastDelivered[slot] = max(state.lastDelivered[slot] ?? .distantPast, entry.at)
            }
        }
    }

    /// Reads a ledger partition from its first record to its end.
    static func load(topic: String, partition: KafkaPartition, kafka: KafkaConfiguration, logger: Logger) async throws -> DeliveryLedger {
        let ledger = DeliveryLedger()
        // A throwaway group id: this reader is assigned its partition and never commits.
        var configuration = KafkaConsumerConfiguration(kafka: kafka, groupID: "tributary-ledger-reader-\(UUID().uuidString.prefix(8).lowercased())")
        configuration.autoOffsetReset = .earliest
        let reader = try KafkaConsumer(configuration: configuration, logger: logger)
        do {
            let (low, high) = try await reader.watermarks(topic: topic, partition: partition)
            if high.rawValue > low.rawValue {
                try reader.assign([KafkaTopicPartition(topic: topic, partition: partition, offset: .beginning)])
                // Bounded: a ledger that cannot be read to its end is an error (the caller tries again), not a hang.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await message in reader.messages {
                            if let value = message.value, let key = message.keyString, let entry = try? TributaryJSON.decode(Entry.self, from: Data(value)) {
                                ledger.add(key, entry)
                            }
                            if message.offset.rawValue >= high.rawValue - 1 { return }
                        }
                    }
                    group.addTask {
                        try await Task.sleep(for: .seconds(30))
                        throw LedgerTimeout(topic: topic, partition: partition)
                    }
                    defer { group.cancelAll() }
                    try await group.next()
                }
            }
        } catch {
            await reader.close()
            throw error
        }
        await reader.close()
        logger.debug("Delivery ledger read", metadata: ["partition": "\(partition)"])
        return ledger
    }
}

/// The delivery ledger could not be read to its end in time.
struct LedgerTimeout: Error, CustomStringConvertible {
    var topic: String
    var partition: KafkaPartition
    var description: String { "\(self.topic)/\(self.partition) could not be read to its end within 30 s" }
}
