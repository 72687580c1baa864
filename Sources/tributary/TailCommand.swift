import ArgumentParser
import Foundation
import Logging
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding

/// `tributary tail`: prints the events of a Tributary topic as JSON lines.
struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Print the CloudEvents of a topic as JSON lines (one per record).",
        discussion: "TOPIC is changes, requests, requests.CLUSTER, sync, notifications, dlq, controls or a full topic name. Reads from the beginning and commits nothing."
    )

    @OptionGroup var options: CommonOptions

    @Argument(help: "changes, requests, requests.CLUSTER, sync, notifications, dlq, controls, or a full topic name.")
    var topic: String = "sync"

    @Option(name: .long, help: "Exit after this many records.")
    var max: Int?

    @Option(name: .long, help: "Exit after this many seconds.")
    var seconds: Int?

    func run() async throws {
        let logger = try self.options.bootstrapLogging(label: "tributary.tail")
        let configuration = try self.options.loadConfiguration()
        guard case .list(let bootstrap) = self.options.brokers(configuration: configuration) else {
            throw ValidationError("tail needs a running cluster: pass --brokers host:port or set KAFKA_BROKERS")
        }
        let topics = configuration.kafka.topics
        let topicName =
            switch self.topic {
            case "changes": topics.changes
            case "requests": topics.requests
            case let name where name.hasPrefix("requests."): topics.requests(cluster: String(name.dropFirst("requests.".count)))
            case "sync": topics.sync
            case "notifications": topics.notifications
            case "dlq": topics.deadLetters
            case "controls": topics.controls
            default: self.topic
            }
        var consumerConfiguration = KafkaConsumerConfiguration(
            kafka: try configuration.kafka.clientConfiguration(bootstrapServers: bootstrap),
            groupID: "tributary-tail-\(UUID().uuidString.lowercased())"
        )
        consumerConfiguration.sessionTimeout = .seconds(6)
        consumerConfiguration.heartbeatInterval = .milliseconds(500)
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        try consumer.subscribe(topics: [topicName])

        let limit = self.max
        let reader = Task {
            var count = 0
            for try await message in consumer.messages {
                printLine(Self.describe(message))
                count += 1
                if let limit, count >= limit { break }
            }
        }
        if let seconds = self.seconds {
            Task {
                try await Task.sleep(for: .seconds(seconds))
                reader.cancel()
            }
        }
        do {
            try await reader.value
        } catch is CancellationError {}
        await consumer.close()
    }

    /// One JSON line: where the record is, its CloudEvents attributes and its data.
    static func describe(_ message: KafkaConsumerMessage) -> String {
        var object: [String: Any] = [
            "topic": message.topic,
            "partition": Int(message.partition.rawValue),
            "offset": Int(message.offset.rawValue),
        ]
        object["key"] = message.keyString
        var rawData: [UInt8]?
        if let event = try? CloudEvent(kafkaMessage: message) {
            object["id"] = event.id
            object["type"] = event.type
            object["source"] = event.source
            object["subject"] = event.subject
            object["time"] = RFC3339.format(event.time)
            // Only an object or array of plain UTF-8 on one line can be spliced as it is.
            if let first = event.data.first, first == UInt8(ascii: "{") || first == UInt8(ascii: "["),
               !event.data.contains(where: { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") || $0 == 0 }),
               (try? JSONSerialization.jsonObject(with: Data(event.data))) != nil {
                // Valid one-line JSON is printed as sent: re-serializing it cost most of tail's time.
                rawData = event.data
            } else {
                object["data"] = (try? JSONSerialization.jsonObject(with: Data(event.data), options: .fragmentsAllowed)) ?? String(decoding: event.data, as: UTF8.self)
            }
        } else {
            object["value"] = message.value.map { String(decoding: $0, as: UTF8.self) }
        }
        let envelope = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        guard let rawData, envelope.count > 2 else { return String(decoding: envelope, as: UTF8.self) }
        // "data" sorts before every other key of the envelope.
        return "{\"data\":" + String(decoding: rawData, as: UTF8.self) + "," + String(decoding: envelope.dropFirst(), as: UTF8.self)
    }
}
