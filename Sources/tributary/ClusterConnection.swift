import Logging
import ServiceLifecycle
import TributaryCore
import TributaryKafka

/// The Kafka cluster a command talks to: the embedded one it starts, or a real one.
struct ClusterConnection {
    /// The embedded broker, when this process hosts it; run it as the first service.
    var embeddedBroker: EmbeddedKafkaBroker?
    var bootstrapServers: String

    /// Starts the embedded broker with Tributary's topics — and the requests topic of each of
    /// `clusters` — when `brokers` is `embedded`.
    static func open(brokers: KafkaSettings.Brokers, settings: KafkaSettings, clusters: [String] = [], logger: Logger) throws -> ClusterConnection {
        switch brokers {
        case .list(let list):
            return ClusterConnection(embeddedBroker: nil, bootstrapServers: list)
        case .embedded:
            let broker = try EmbeddedKafkaBroker(brokerCount: settings.embeddedBrokerCount, logger: logger)
            for topic in settings.topics.all + clusters.map({ settings.topics.requests(cluster: $0) }) {
                try broker.createTopic(topic, partitions: settings.partitions)
            }
            logger.info(
                "Embedded Kafka broker started",
                metadata: ["kafka.bootstrap": "\(broker.bootstrapServers)", "kafka.partitions": "\(settings.partitions)"]
            )
            return ClusterConnection(embeddedBroker: broker, bootstrapServers: broker.bootstrapServers)
        }
    }
}
