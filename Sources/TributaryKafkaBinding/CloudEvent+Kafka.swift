import Foundation
import TributaryCore
import TributaryKafka

extension CloudEvent {
    /// Kafka header names of the binary-mode binding.
    public enum KafkaHeaderName {
        public static let specVersion = "ce_specversion"
        public static let id = "ce_id"
        public static let source = "ce_source"
        public static let type = "ce_type"
        public static let time = "ce_time"
        public static let subject = "ce_subject"
        public static let contentType = "content-type"
    }

    /// The event as a Kafka record in binary mode: attributes as headers, data as the value.
    ///
    /// - Parameters:
    ///   - key: the record key, which decides the partition (repository key, app name, ...).
    public func kafkaMessage(topic: String, key: String?) -> KafkaProducerMessage {
        var headers = [
            KafkaHeader(key: KafkaHeaderName.specVersion, value: Self.specVersion),
            KafkaHeader(key: KafkaHeaderName.id, value: self.id),
            KafkaHeader(key: KafkaHeaderName.source, value: self.source),
            KafkaHeader(key: KafkaHeaderName.type, value: self.type),
            KafkaHeader(key: KafkaHeaderName.time, value: RFC3339.format(self.time)),
        ]
        if let subject = self.subject {
            headers.append(KafkaHeader(key: KafkaHeaderName.subject, value: subject))
        }
        headers.append(KafkaHeader(key: KafkaHeaderName.contentType, value: self.dataContentType))
        return KafkaProducerMessage(topic: topic, key: key, value: self.data, headers: headers)
    }

    /// Reads a binary-mode CloudEvent from a Kafka record.
    ///
    /// - Throws: `CloudEventError` naming the missing or invalid attribute.
    public init(kafkaMessage message: KafkaConsumerMessage) throws {
        let headers = message.headers
        func required(_ name: String) throws -> String {
            guard let value = headers.first(named: name), !value.isEmpty else {
                throw CloudEventError(message: "record \(message.topic)[\(message.partition)]@\(message.offset) has no \(name) header")
            }
            return value
        }
        let specVersion = try required(KafkaHeaderName.specVersion)
        guard specVersion == Self.specVersion else {
            throw CloudEventError(message: "unsupported CloudEvents spec version \(specVersion)")
        }
        let id = try required(KafkaHeaderName.id)
        let source = try required(KafkaHeaderName.source)
        let type = try required(KafkaHeaderName.type)
        // `time` is optional in CloudEvents 1.0: without it, the record's own timestamp stands in.
        let time: Date
        if let timeText = headers.first(named: KafkaHeaderName.time) {
            guard let parsed = RFC3339.parse(timeText) else {
                throw CloudEventError(message: "\(KafkaHeaderName.time) is not an RFC 3339 time: \(timeText)")
            }
            time = parsed
        } else {
            time = message.timestamp ?? Date()
        }
        self.init(
            id: id,
            source: source,
            type: type,
            time: time,
            subject: headers.first(named: KafkaHeaderName.subject),
            dataContentType: headers.first(named: KafkaHeaderName.contentType) ?? "application/json",
            data: message.value ?? []
        )
    }
}

/// A Kafka record that is not a valid binary-mode CloudEvent.
public struct CloudEventError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { self.message }
}
