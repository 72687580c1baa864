import CRdKafka
import Dispatch
import Logging

/// Cluster administration Tributary needs: creating its topics on a real cluster.
///
/// The embedded broker has no CreateTopics API (librdkafka 2.0.2's mock cluster); create its topics
/// with `EmbeddedKafkaBroker/createTopic(_:partitions:)` instead.
public struct KafkaAdministrator: Sendable {
    private let configuration: KafkaConfiguration
    private let logger: Logger

    public init(configuration: KafkaConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Creates topics that do not exist yet; existing ones are left as they are.
    ///
    /// - Parameters:
    ///   - replicationFactor: copies of each partition; -1 uses the broker's default.
    ///   - configs: topic configuration for every new topic (`cleanup.policy: compact`, ...).
    /// - Throws: `KafkaError` for the first topic the cluster refused.
    public func createTopics(
        _ names: [String], partitions: Int, replicationFactor: Int = -1, configs: [String: String] = [:], timeout: Duration = .seconds(30)
    ) async throws {
        guard !names.isEmpty else { return }
        let client = try RDKafkaClient(
            type: RD_KAFKA_PRODUCER,
            properties: self.configuration.commonProperties.merging(self.configuration.properties) { _, explicit in explicit },
            context: RDKafkaContext(logger: self.logger)
        )
        let timeoutMilliseconds = Int32(clamping: timeout.milliseconds)
        try await DispatchQueue(label: "tributary.kafka.admin").run {
            var errorBuffer = [CChar](repeating: 0, count: 512)
            var newTopics: [OpaquePointer?] = []
            defer { newTopics.withUnsafeMutableBufferPointer { rd_kafka_NewTopic_destroy_array($0.baseAddress, $0.count) } }
            for name in names {
                guard let topic = rd_kafka_NewTopic_new(name, Int32(partitions), Int32(replicationFactor), &errorBuffer, errorBuffer.count) else {
                    throw KafkaError.configuration("topic \(name): \(errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })")
                }
                newTopics.append(topic)
                for (key, value) in configs.sorted(by: { $0.key < $1.key }) {
                    let error = rd_kafka_NewTopic_set_config(topic, key, value)
                    guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(rdKafka: error, context: "topic \(name): \(key)=\(value)") }
                }
            }
            let queue = rd_kafka_queue_new(client.handle)
            defer { rd_kafka_queue_destroy(queue) }
            let options = rd_kafka_AdminOptions_new(client.handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
            defer { rd_kafka_AdminOptions_destroy(options) }
            _ = rd_kafka_AdminOptions_set_request_timeout(options, timeoutMilliseconds, &errorBuffer, errorBuffer.count)
            newTopics.withUnsafeMutableBufferPointer { rd_kafka_CreateTopics(client.handle, $0.baseAddress, $0.count, options, queue) }

            guard let event = rd_kafka_queue_poll(queue, timeoutMilliseconds &+ 1000 < 0 ? Int32.max : timeoutMilliseconds + 1000) else {
                throw KafkaError(rdKafka: RD_KAFKA_RESP_ERR__TIMED_OUT, context: "CreateTopics")
            }
            defer { rd_kafka_event_destroy(event) }
            let eventError = rd_kafka_event_error(event)
            guard eventError == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(rdKafka: eventError, context: "CreateTopics")
            }
            var count = 0
            guard let result = rd_kafka_event_CreateTopics_result(event),
                let topics = rd_kafka_CreateTopics_result_topics(result, &count)
            else { return }
            for index in 0..<count {
                let topic = topics[index]
                let error = rd_kafka_topic_result_error(topic)
                guard error != RD_KAFKA_RESP_ERR_NO_ERROR, error != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS else { continue }
                throw KafkaError(rdKafka: error, context: "cannot create topic \(String(cString: rd_kafka_topic_result_name(topic)))")
            }
        }
    }
}
