import Foundation

/// The `kafka` section: which cluster, topic names, client properties.
public struct KafkaSettings: Sendable {
    /// `brokers`: `embedded` (an in-process mock cluster) or `host:port[,host:port]`. Default `embedded`.
    public var brokers: Brokers = .embedded
    /// `topicPrefix`: topics are `<prefix>.changes`, `.sync`, `.notifications`, `.dlq`. Default `tributary`.
    public var topicPrefix: String = "tributary"
    /// `partitions`: partitions per topic, for topics the embedded broker creates. Default 6.
    public var partitions: Int = 6
    /// `embeddedBrokers`: brokers in the embedded cluster, 1–3. Default 1.
    public var embeddedBrokerCount: Int = 1
    /// `properties`: any librdkafka property; values may be secret references. Default none.
    public var properties: [String: PropertyValue] = [:]

    public init() {}

    /// Which cluster to use.
    public enum Brokers: Hashable, Sendable, CustomStringConvertible {
        case embedded
        case list(String)

        /// Reads `embedded` or a bootstrap list.
        public init(_ text: String) {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            self = trimmed == "embedded" ? .embedded : .list(trimmed)
        }

        public var description: String {
            switch self {
            case .embedded: "embedded"
            case .list(let list): list
            }
        }
    }

    /// A property value: plain text, or a secret read when the client starts.
    public enum PropertyValue: Hashable, Sendable {
        case text(String)
        case secret(SecretReference)
    }

    public var topics: TributaryTopics { TributaryTopics(prefix: self.topicPrefix) }

    /// The librdkafka properties with secrets resolved.
    ///
    /// - Throws: `SecretError` naming the property whose secret cannot be read.
    public func resolvedProperties() throws -> [String: String] {
        try self.properties.mapValues { value in
            switch value {
            case .text(let text): return text
            case .secret(let reference): return try reference.resolve()
            }
        }
    }

    init(node: ConfigurationNode) throws {
        let mapping = try node.mapping(allowedKeys: ["brokers", "topicPrefix", "partitions", "embeddedBrokers", "properties"])
        if let value = mapping["brokers"] {
            let text = try value.string()
            guard !text.isEmpty else { throw value.error("expected 'embedded' or host:port[,host:port]") }
            self.brokers = Brokers(text)
        }
        if let value = mapping["topicPrefix"] {
            let prefix = try value.string()
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
            guard !prefix.isEmpty, prefix.count <= 200, prefix.allSatisfy(allowed.contains) else {
                throw value.error("a topic prefix is 1–200 characters of letters, digits, '.', '_' and '-'")
            }
            self.topicPrefix = prefix
        }
        if let value = mapping["partitions"] { self.partitions = try value.int(in: 1...1000) }
        if let value = mapping["embeddedBrokers"] { self.embeddedBrokerCount = try value.int(in: 1...3) }
        if let value = mapping["properties"] {
            for (key, entry) in try value.mapping(allowedKeys: nil).entries {
                if key == "partitioner" {
                    // Partitions decide ownership: the planner and the workers compute them with the same function.
                    throw entry.error("Tributary places records itself (murmur2 of the key, as the Java client) and workers own apps by that function; a partitioner override is not allowed")
                }
                if case .mapping = entry.node {
                    self.properties[key] = .secret(try entry.secretReference())
                } else {
                    self.properties[key] = .text(try entry.string())
                }
            }
        }
    }
}
