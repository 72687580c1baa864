import CRdKafka

/// An error raised by the Kafka layer.
///
/// Modelled on swift-kafka-client's `KafkaError`: a struct with an extensible code, so new codes do
/// not break callers that switch on the common ones.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in categories callers can act on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: Hashable, Sendable {
            case configuration
            case brokerUnavailable
            case timedOut
            case queueFull
            case messageTooLarge
            case unknownTopicOrPartition
            case rebalanceInProgress
            case shutDown
            case underlying
        }

        private let backing: Backing
        private init(_ backing: Backing) { self.backing = backing }

        /// A client property was rejected or missing.
        public static let configuration = Code(.configuration)
        /// No broker could be reached, or the connection dropped.
        public static let brokerUnavailable = Code(.brokerUnavailable)
        /// The operation did not finish within its deadline (for a message: `message.timeout.ms`).
        public static let timedOut = Code(.timedOut)
        /// The producer's local queue is full; retry after in-flight messages drain.
        public static let queueFull = Code(.queueFull)
        /// The message exceeds the broker's or the client's size limit.
        public static let messageTooLarge = Code(.messageTooLarge)
        /// The topic or partition does not exist on the cluster.
        public static let unknownTopicOrPartition = Code(.unknownTopicOrPartition)
        /// A consumer-group rebalance is under way; commits made now fail and messages may be redelivered.
        public static let rebalanceInProgress = Code(.rebalanceInProgress)
        /// The client was shut down or closed.
        public static let shutDown = Code(.shutDown)
        /// Any other librdkafka error; see `KafkaError/rdKafkaCode`.
        public static let underlying = Code(.underlying)

        public var description: String {
            switch self.backing {
            case .configuration: "configuration"
            case .brokerUnavailable: "brokerUnavailable"
            case .timedOut: "timedOut"
            case .queueFull: "queueFull"
            case .messageTooLarge: "messageTooLarge"
            case .unknownTopicOrPartition: "unknownTopicOrPartition"
            case .rebalanceInProgress: "rebalanceInProgress"
            case .shutDown: "shutDown"
            case .underlying: "underlying"
            }
        }
    }

    /// The category of the error.
    public var code: Code
    /// A human-readable reason. Never contains secrets.
    public var message: String
    /// The raw librdkafka error code (`rd_kafka_resp_err_t`), when librdkafka reported the error.
    public var rdKafkaCode: Int32?
    /// Whether retrying the same operation may succeed.
    public var isRetriable: Bool
    /// Whether the client is unusable from now on and must be recreated.
    public var isFatal: Bool
    /// Where the error was raised.
    public var file: String
    public var line: Int

    public init(
        code: Code,
        message: String,
        rdKafkaCode: Int32? = nil,
        isRetriable: Bool = false,
        isFatal: Bool = false,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.rdKafkaCode = rdKafkaCode
        self.isRetriable = isRetriable
        self.isFatal = isFatal
        self.file = file
        self.line = line
    }

    public var description: String {
        "KafkaError(\(self.code)): \(self.message)"
    }

    /// The producer or consumer was already shut down.
    public static func shutDown(file: String = #fileID, line: Int = #line) -> KafkaError {
        KafkaError(code: .shutDown, message: "the Kafka client is shut down", file: file, line: line)
    }

    /// A client property was rejected.
    public static func configuration(_ message: String, file: String = #fileID, line: Int = #line) -> KafkaError {
        KafkaError(code: .configuration, message: message, file: file, line: line)
    }
}

extension KafkaError {
    /// Builds an error from a librdkafka response code.
    init(rdKafka error: rd_kafka_resp_err_t, context: String? = nil, file: String = #fileID, line: Int = #line) {
        let text = String(cString: rd_kafka_err2str(error))
        self.init(
            code: Self.code(for: error),
            message: context.map { "\($0): \(text)" } ?? text,
            rdKafkaCode: error.rawValue,
            isRetriable: Self.isRetriable(error),
            isFatal: error == RD_KAFKA_RESP_ERR__FATAL,
            file: file,
            line: line
        )
    }

    /// Builds an error from an `rd_kafka_error_t`, which it destroys.
    init(consuming error: OpaquePointer, context: String? = nil, file: String = #fileID, line: Int = #line) {
        defer { rd_kafka_error_destroy(error) }
        let code = rd_kafka_error_code(error)
        let text = String(cString: rd_kafka_error_string(error))
        self.init(
            code: Self.code(for: code),
            message: context.map { "\($0): \(text)" } ?? text,
            rdKafkaCode: code.rawValue,
            isRetriable: rd_kafka_error_is_retriable(error) != 0 || Self.isRetriable(code),
            isFatal: rd_kafka_error_is_fatal(error) != 0,
            file: file,
            line: line
        )
    }

    private static func code(for error: rd_kafka_resp_err_t) -> Code {
        switch error {
        case RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__RESOLVE,
            RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
            .brokerUnavailable
        case RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
            .timedOut
        case RD_KAFKA_RESP_ERR__QUEUE_FULL:
            .queueFull
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
            .messageTooLarge
        case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION,
            RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
            .unknownTopicOrPartition
        case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION,
            RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
            .rebalanceInProgress
        case RD_KAFKA_RESP_ERR__DESTROY:
            .shutDown
        case RD_KAFKA_RESP_ERR__INVALID_ARG, RD_KAFKA_RESP_ERR__UNKNOWN_GROUP:
            .configuration
        default:
            .underlying
        }
    }

    private static func isRetriable(_ error: rd_kafka_resp_err_t) -> Bool {
        switch self.code(for: error) {
        case .brokerUnavailable, .timedOut, .queueFull, .rebalanceInProgress: true
        default: false
        }
    }
}
