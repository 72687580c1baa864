import CRdKafka
import Logging
import ServiceLifecycle
import Synchronization

/// A Kafka-protocol cluster in this process: librdkafka's mock cluster, bound to 127.0.0.1 on
/// ephemeral ports.
///
/// For the one-process dev mode and for tests. It keeps data in memory (at most about 5 MB per
/// partition; older records are dropped), has no CreateTopics API (topics are made here with
/// `createTopic(_:partitions:)`; unknown topics are auto-created with 4 partitions) and no
/// security. Everything that talks to it speaks real Kafka over TCP, so the same code runs against
/// a real cluster given by `--brokers`.
public final class EmbeddedKafkaBroker: Service, Sendable {
    private let cluster: MockCluster

    /// The bootstrap list, `127.0.0.1:port[,...]`.
    public let bootstrapServers: String

    /// Starts the mock cluster.
    ///
    /// - Parameters:
    ///   - brokerCount: number of brokers, 1–3.
    /// - Throws: `KafkaError.configuration` when the cluster cannot start.
    public init(brokerCount: Int = 1, logger: Logger) throws {
        guard (1...3).contains(brokerCount) else {
            throw KafkaError.configuration("the embedded broker runs 1 to 3 brokers, not \(brokerCount)")
        }
        self.cluster = try MockCluster(brokerCount: brokerCount, logger: logger)
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(self.cluster.cluster))
    }

    /// Creates a topic, replicated on every broker up to three.
    ///
    /// - Throws: `KafkaError` when the mock cluster refuses.
    public func createTopic(_ name: String, partitions: Int) throws {
        let replication = Int32(self.cluster.brokerCount)
        let error = rd_kafka_mock_topic_create(self.cluster.cluster, name, Int32(partitions), replication)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(rdKafka: error, context: "cannot create topic \(name)")
        }
    }

    /// Takes a broker off the network (connections drop, requests fail) — for failure tests.
    public func setBrokerDown(_ id: Int32 = 1) {
        rd_kafka_mock_broker_set_down(self.cluster.cluster, id)
    }

    /// Brings a broker taken down by `setBrokerDown(_:)` back.
    public func setBrokerUp(_ id: Int32 = 1) {
        rd_kafka_mock_broker_set_up(self.cluster.cluster, id)
    }

    /// Makes `broker` the leader of a partition, or leaves it without one (`nil`): producing to a
    /// leaderless partition fails once the message times out — for tests of an unwritable topic.
    public func setPartitionLeader(topic: String, partition: Int32, broker: Int32?) {
        rd_kafka_mock_partition_set_leader(self.cluster.cluster, topic, partition, broker ?? -1)
    }

    /// Answers the next `count` Produce requests with the Kafka protocol error `errorCode` (47 is
    /// INVALID_PRODUCER_EPOCH: what a broker that lost its producer state answers) — for tests of
    /// broker refusals.
    public func failNextProduceRequests(_ count: Int, errorCode: Int32) {
        let errors = [rd_kafka_resp_err_t](repeating: rd_kafka_resp_err_t(rawValue: errorCode), count: count)
        // ApiKey 0 is Produce.
        rd_kafka_mock_push_request_errors_array(self.cluster.cluster, 0, errors.count, errors)
    }

    /// Delays every response of a broker by `roundTripTime` — for tests of slow brokers.
    public func setBrokerRoundTripTime(_ roundTripTime: Duration, broker id: Int32 = 1) {
        rd_kafka_mock_broker_set_rtt(self.cluster.cluster, id, Int32(clamping: roundTripTime.milliseconds))
    }

    /// Serves until graceful shutdown; the cluster stops when the last reference goes.
    public func run() async throws {
        try? await gracefulShutdown()
    }
}

/// Owns the mock cluster and the librdkafka handle hosting its thread.
///
/// `@unchecked Sendable` is safe: the `rd_kafka_mock_*` functions post to the cluster's own thread
/// and are thread-safe; the pointers are only freed in `deinit`.
private final class MockCluster: @unchecked Sendable {
    let host: RDKafkaClient
    let cluster: OpaquePointer
    let brokerCount: Int

    init(brokerCount: Int, logger: Logger) throws {
        // Any client type can host a mock cluster; a producer that never produces is the cheapest.
        self.host = try RDKafkaClient(
            type: RD_KAFKA_PRODUCER,
            // Warnings and up only: the host client has no bootstrap list, which librdkafka notes at level 5.
            properties: ["client.id": "tributary-embedded-broker", "log_level": "4"],
            context: RDKafkaContext(logger: logger)
        )
        guard let cluster = rd_kafka_mock_cluster_new(self.host.handle, Int32(brokerCount)) else {
            throw KafkaError.configuration("cannot start the embedded Kafka cluster")
        }
        self.cluster = cluster
        self.brokerCount = brokerCount
    }

    deinit {
        rd_kafka_mock_cluster_destroy(self.cluster)
    }
}
