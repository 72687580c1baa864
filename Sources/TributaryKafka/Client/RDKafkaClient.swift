import CRdKafka
import Logging

/// Owns one `rd_kafka_t` handle and the context its C callbacks reach through the opaque pointer.
///
/// `@unchecked Sendable` is safe: librdkafka documents every `rd_kafka_*` call on a handle as
/// thread-safe, and this class only creates the handle and destroys it in `deinit`, when no one else
/// holds a reference.
final class RDKafkaClient: @unchecked Sendable {
    let handle: OpaquePointer
    let context: RDKafkaContext

    /// Creates a client of `type` from librdkafka properties.
    ///
    /// - Parameters:
    ///   - configure: sets type-specific callbacks on the `rd_kafka_conf_t` before the handle is created.
    /// - Throws: `KafkaError.configuration` naming the rejected property (never its value).
    init(
        type: rd_kafka_type_t,
        properties: [String: String],
        context: RDKafkaContext,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError.configuration("rd_kafka_conf_new failed")
        }
        var errorBuffer = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            let result = rd_kafka_conf_set(conf, key, value, &errorBuffer, errorBuffer.count)
            if result != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let reason = secretPropertyNames.contains(key) ? "invalid value" : errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                throw KafkaError.configuration("Kafka property '\(key)': \(reason)")
            }
        }
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_log_cb(conf, rdKafkaLogCallback)
        rd_kafka_conf_set_error_cb(conf, rdKafkaErrorCallback)
        configure(conf)

        // On success rd_kafka_new takes ownership of conf; on failure it stays ours.
        guard let handle = rd_kafka_new(type, conf, &errorBuffer, errorBuffer.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError.configuration("cannot create Kafka client: \(errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })")
        }
        self.handle = handle
        self.context = context
    }

    deinit {
        rd_kafka_destroy(self.handle)
    }

    /// The client's name as librdkafka assigned it (`tributary#producer-1`).
    var name: String { String(cString: rd_kafka_name(self.handle)) }
}

/// State reachable from librdkafka's C callbacks.
///
/// Passed unretained as the handle's opaque pointer; the owning `RDKafkaClient` keeps it alive for
/// as long as the handle exists.
class RDKafkaContext: @unchecked Sendable {
    // Immutable after init; Logger is Sendable.
    let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// Called on the polling thread of a consumer during a rebalance. The default does nothing.
    func rebalance(handle: OpaquePointer, error: rd_kafka_resp_err_t, partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {}

    static func fromOpaque(_ opaque: UnsafeMutableRawPointer) -> RDKafkaContext {
        Unmanaged<RDKafkaContext>.fromOpaque(opaque).takeUnretainedValue()
    }
}

/// Routes librdkafka's syslog-levelled log lines to swift-log. Runs on librdkafka's internal threads;
/// it only formats and logs.
private let rdKafkaLogCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = {
    handle, level, facility, buffer in
    guard let handle, let opaque = rd_kafka_opaque(handle), let buffer else { return }
    let context = RDKafkaContext.fromOpaque(opaque)
    let swiftLevel: Logger.Level =
        switch level {
        case 0...2: .critical
        case 3: .error
        case 4: .warning
        case 5: .notice
        case 6: .info
        default: .debug
        }
    context.logger.log(
        level: swiftLevel,
        "\(String(cString: buffer))",
        metadata: ["kafka.facility": "\(facility.map { String(cString: $0) } ?? "")"]
    )
}

/// Logs client-level errors (broker down, authentication failures). Fatal errors surface again from
/// the next call on the handle.
private let rdKafkaErrorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
    _, error, reason, opaque in
    guard let opaque else { return }
    let context = RDKafkaContext.fromOpaque(opaque)
    let code = rd_kafka_resp_err_t(rawValue: error)
    let level: Logger.Level = code == RD_KAFKA_RESP_ERR__FATAL ? .critical : .warning
    context.logger.log(
        level: level,
        "Kafka client error: \(reason.map { String(cString: $0) } ?? String(cString: rd_kafka_err2str(code)))",
        metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(code)))"]
    )
}

extension KafkaTopicPartition {
    /// Copies a C partition list into Swift values.
    static func array(from list: UnsafePointer<rd_kafka_topic_partition_list_t>?) -> [KafkaTopicPartition] {
        guard let list, let elements = list.pointee.elems else { return [] }
        return (0..<Int(list.pointee.cnt)).map { index in
            let element = elements[index]
            return KafkaTopicPartition(
                topic: String(cString: element.topic),
                partition: KafkaPartition(rawValue: element.partition),
                offset: KafkaOffset(rawValue: element.offset)
            )
        }
    }

    /// Lends a C partition list built from `partitions` to `body`. Do not let the pointer escape.
    static func withPartitionList<Result>(
        _ partitions: [KafkaTopicPartition],
        _ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) throws -> Result
    ) rethrows -> Result {
        let list = rd_kafka_topic_partition_list_new(Int32(partitions.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for partition in partitions {
            let element = rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition.rawValue)!
            element.pointee.offset = partition.offset.rawValue
        }
        return try body(list)
    }
}
