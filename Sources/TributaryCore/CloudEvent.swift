import Foundation

/// A CloudEvents 1.0 event whose data is JSON.
///
/// Tributary's records use the Kafka protocol binding in binary mode: attributes travel as `ce_*`
/// headers, the data is the record value (see `CloudEvent+Kafka.swift`).
public struct CloudEvent: Hashable, Sendable {
    public static let specVersion = "1.0"

    /// Unique per source; consumers deduplicate on (`source`, `id`).
    public var id: String
    /// A URI reference naming the producer, for example `/tributary/listener`.
    public var source: String
    /// Reverse-DNS event type, for example `dev.tributary.git.push`.
    public var type: String
    /// When the occurrence happened.
    public var time: Date
    /// What the event is about within the source: a repository key or an app name.
    public var subject: String?
    /// The data's media type. Default `application/json`.
    public var dataContentType: String
    /// The encoded data.
    public var data: [UInt8]

    public init(
        id: String = UUID().uuidString.lowercased(),
        source: String,
        type: String,
        time: Date = Date(),
        subject: String? = nil,
        dataContentType: String = "application/json",
        data: [UInt8]
    ) {
        self.id = id
        self.source = source
        self.type = type
        self.time = time
        self.subject = subject
        self.dataContentType = dataContentType
        self.data = data
    }

    /// Creates an event whose data is `payload` encoded as JSON.
    public init<Payload: Encodable>(
        id: String = UUID().uuidString.lowercased(),
        source: String,
        type: String,
        time: Date = Date(),
        subject: String? = nil,
        payload: Payload
    ) throws {
        self.init(id: id, source: source, type: type, time: time, subject: subject, data: Array(try TributaryJSON.encode(payload)))
    }

    /// Decodes the JSON data.
    ///
    /// - Throws: `DecodingError` when the data does not match `Payload`.
    public func decodePayload<Payload: Decodable>(as type: Payload.Type) throws -> Payload {
        try TributaryJSON.decode(type, from: Data(self.data))
    }
}

/// The JSON conventions of every Tributary event: RFC 3339 times with milliseconds, sorted keys.
public enum TributaryJSON {
    public static func encode<Value: Encodable>(_ value: Value) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.format(date))
        }
        return try encoder.encode(value)
    }

    public static func decode<Value: Decodable>(_ type: Value.Type, from data: Data) throws -> Value {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = RFC3339.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an RFC 3339 time: \(text)")
            }
            return date
        }
        return try decoder.decode(type, from: data)
    }
}

/// RFC 3339 timestamps (UTC, millisecond precision) as CloudEvents' `time` wants them.
public enum RFC3339 {
    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
    private static let withoutFraction = Date.ISO8601FormatStyle(timeZone: .gmt)

    public static func format(_ date: Date) -> String {
        // By hand, on the webhook hot path: FormatStyle goes through Calendar and costs far more.
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var seconds = time_t(milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000)
        let fraction = Int(milliseconds - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let year = Int(parts.tm_year) + 1900
        guard (0...9999).contains(year) else { return date.formatted(Self.withFraction) }
        // Digits written into a fixed `YYYY-MM-DDTHH:MM:SS.mmmZ` template.
        var text = Array("0000-00-00T00:00:00.000Z".utf8)
        func put(_ value: Int, width: Int, at offset: Int) {
            var value = value
            for index in stride(from: offset + width - 1, through: offset, by: -1) {
                text[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(year, width: 4, at: 0)
        put(Int(parts.tm_mon) + 1, width: 2, at: 5)
        put(Int(parts.tm_mday), width: 2, at: 8)
        put(Int(parts.tm_hour), width: 2, at: 11)
        put(Int(parts.tm_min), width: 2, at: 14)
        put(Int(parts.tm_sec), width: 2, at: 17)
        put(fraction, width: 3, at: 20)
        return String(decoding: text, as: UTF8.self)
    }

    public static func parse(_ text: String) -> Date? {
        (try? self.withFraction.parse(text)) ?? (try? self.withoutFraction.parse(text))
    }
}
