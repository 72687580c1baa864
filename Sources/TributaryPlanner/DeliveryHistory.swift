import Foundation
import Logging
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding

/// Where in one changes partition each webhook delivery first appeared, for dropping a delivery
/// the Git host sent again to another listener replica (each replica only remembers its own).
///
/// Every delivery of a repository lands on the repository's partition, so the first copy always
/// sits at a lower offset than a redelivery. The history records facts about the partition's
/// contents only, never about handling, so recording a message twice or out of order is harmless:
/// a sighting keeps its lowest offset, and a message is a redelivery only when a *lower* offset
/// carried the same delivery (a retried or re-read message is not its own duplicate).
struct DeliveryHistory: Sendable {
    /// A delivery of one ref: a host's delivery may carry several refs (Bitbucket), and a
    /// delivery id reused with other content is not a redelivery.
    struct Key: Hashable, Sendable {
        var provider: String
        var hookID: String?
        var deliveryID: String
        var ref: String
        var after: String

        init(_ change: ChangeEvent) {
            self.provider = change.provider
            self.hookID = change.hookID
            self.deliveryID = change.deliveryID
            self.ref = change.ref
            self.after = change.after
        }
    }

    struct Sighting: Equatable, Sendable {
        var offset: Int64
        var receivedAt: Date
    }

    /// How far apart a redelivery may be received from the first copy.
    let window: TimeInterval
    /// Sightings kept at most; past it, those received longest ago go first.
    let capacity: Int
    private(set) var sightings: [Key: Sighting] = [:]
    /// The assignment of the partition this history belongs to (`KafkaConsumerMessage.assignmentGeneration`):
    /// once the partition moved away and back, its other owner may have read records this one never saw.
    let generation: UInt64
    /// Whether the partition was read back (`loaded(_:)`) in this assignment.
    var isLoaded = false

    init(window: TimeInterval, generation: UInt64 = 0, capacity: Int = 100_000) {
        self.window = window
        self.generation = generation
        self.capacity = capacity
    }

    /// Records `change`, read at `offset`, and returns the sighting it repeats: the same delivery
    /// at a lower offset, received within the window. Nil for a first copy.
    mutating func observe(_ change: ChangeEvent, at offset: Int64) -> Sighting? {
        let key = Key(change)
        if let earlier = self.sightings[key], abs(change.receivedAt.timeIntervalSince(earlier.receivedAt)) <= self.window {
            // Listener clocks differ, so receipt times are compared either way round.
            if earlier.offset < offset { return earlier }
            self.sightings[key]!.offset = offset  // the same message again, or one read back out of order
            return nil
        }
        self.sightings[key] = Sighting(offset: offset, receivedAt: change.receivedAt)
        if self.sightings.count > self.capacity { self.evictOldest() }
        return nil
    }

    private mutating func evictOldest() {
        let newest = self.sightings.values.map(\.receivedAt).max() ?? Date()
        self.sightings = self.sightings.filter { newest.timeIntervalSince($0.value.receivedAt) <= self.window }
        if self.sightings.count > self.capacity {
            let kept = self.sightings.sorted { $0.value.receivedAt > $1.value.receivedAt }.prefix(self.capacity * 3 / 4)
            self.sightings = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
        }
    }

    /// Marks the history read back, adding the change events `read` found.
    mutating func loaded(_ read: [(change: ChangeEvent, offset: Int64)]) {
        for (change, offset) in read { _ = self.observe(change, at: offset) }
        self.isLoaded = true
    }

    /// The change events of `partition` below `offset` — at most `lookback` of them: what was
    /// published there before a member's first message.
    ///
    /// - Throws: `KafkaError`, or `DeliveryHistoryTimeout` when the records cannot be read within 30 s.
    static func read(topic: String, partition: KafkaPartition, below offset: Int64, lookback: Int, kafka: KafkaConfiguration, logger: Logger) async throws -> [(change: ChangeEvent, offset: Int64)] {
        // A throwaway group id: this reader is assigned its partition and never commits.
        var configuration = KafkaConsumerConfiguration(kafka: kafka, groupID: "tributary-history-reader-\(UUID().uuidString.prefix(8).lowercased())")
        configuration.autoOffsetReset = .earliest
        let reader = try KafkaConsumer(configuration: configuration, logger: logger)
        do {
            let read = try await Self.read(reader, topic: topic, partition: partition, below: offset, lookback: lookback)
            await reader.close()
            return read
        } catch {
            await reader.close()
            throw error
        }
    }

    private static func read(_ reader: KafkaConsumer, topic: String, partition: KafkaPartition, below offset: Int64, lookback: Int) async throws -> [(change: ChangeEvent, offset: Int64)] {
        let (low, _) = try await reader.watermarks(topic: topic, partition: partition)
        let start = max(low.rawValue, offset - Int64(lookback))
        guard start < offset else { return [] }
        try reader.assign([KafkaTopicPartition(topic: topic, partition: partition, offset: KafkaOffset(rawValue: start))])
        return try await withThrowingTaskGroup(of: [(change: ChangeEvent, offset: Int64)].self) { group in
            group.addTask {
                var read: [(change: ChangeEvent, offset: Int64)] = []
                for try await message in reader.messages {
                    if message.offset.rawValue >= offset { break }
                    if let event = try? CloudEvent(kafkaMessage: message), event.type == ChangeEvent.eventType,
                       let change = try? event.decodePayload(as: ChangeEvent.self) {
                        read.append((change, message.offset.rawValue))
                    }
                    if message.offset.rawValue >= offset - 1 { break }
                }
                return read
            }
            group.addTask {
                try await Task.sleep(for: .seconds(30))
                throw DeliveryHistoryTimeout(topic: topic, partition: partition)
            }
            defer { group.cancelAll() }
            return try await group.next() ?? []
        }
    }
}

/// A changes partition could not be read back in time.
struct DeliveryHistoryTimeout: Error, CustomStringConvertible {
    var topic: String
    var partition: KafkaPartition
    var description: String { "the delivery history of \(self.topic)/\(self.partition) could not be read within 30 s" }
}
