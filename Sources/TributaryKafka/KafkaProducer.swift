import CRdKafka
import Dispatch
import Logging
import ServiceLifecycle
import Synchronization

/// Publishes records to Kafka through librdkafka.
///
/// Idempotent with `acks=all` by default. Delivery reports are served by a polling loop on a
/// dedicated queue, never on the cooperative thread pool. Run it as a `Service` (its `run()` waits
/// for graceful shutdown, then flushes) or call `shutdown()` yourself.
public final class KafkaProducer: Service, Sendable {
    private let client: RDKafkaClient
    private let configuration: KafkaProducerConfiguration
    private let logger: Logger
    private let state = Mutex(State())
    private let stopPolling = StopFlag()
    private let pollQueue = DispatchQueue(label: "tributary.kafka.producer.poll")
    private let blockingQueue = DispatchQueue(label: "tributary.kafka.producer.blocking")

    private struct State {
        var nextID: UInt64 = 0
        var isShutDown = false
    }

    /// Creates the producer and starts serving delivery reports.
    ///
    /// - Throws: `KafkaError.configuration` when librdkafka rejects a property.
    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.client = try RDKafkaClient(
            type: RD_KAFKA_PRODUCER,
            properties: configuration.properties,
            context: RDKafkaContext(logger: logger),
            configure: { conf in rd_kafka_conf_set_dr_msg_cb(conf, deliveryReportCallback) }
        )
        let client = self.client
        let stop = self.stopPolling
        // rd_kafka_poll serves delivery reports and callbacks; 50 ms bounds how long shutdown waits for the loop.
        self.pollQueue.async {
            while !stop.isSet {
                rd_kafka_poll(client.handle, 50)
            }
        }
    }

    deinit {
        self.stopPolling.set()
    }

    /// Enqueues a message and returns at once; the outcome is logged when the report arrives.
    ///
    /// - Returns: the message's id, which matches the id of its delivery report.
    /// - Throws: `KafkaError` when the message cannot be queued (queue full, unknown partition, shut down).
    @discardableResult
    public func send(_ message: KafkaProducerMessage) throws -> KafkaProducerMessageID {
        try self.enqueue(message, continuation: nil)
    }

    /// Publishes a message and waits until the broker acknowledges it — the async send.
    ///
    /// - Returns: where the broker stored the message.
    /// - Throws: `KafkaError` when it cannot be queued or its delivery fails (`timedOut` after
    ///   `message.timeout.ms`, for example).
    public func deliver(_ message: KafkaProducerMessage) async throws -> KafkaDeliveryReport {
        // Unsafe: the ticket resumes it exactly once (see `DeliveryTicket`), and the checked variant
        // costs an allocation per message on the listener's hot path.
        try await withUnsafeThrowingContinuation { continuation in
            do {
                _ = try self.enqueue(message, continuation: continuation)
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }

    /// Waits until every message in flight has a delivery report, or `timeout` passes.
    ///
    /// - Throws: `KafkaError.timedOut` when messages are still in flight after `timeout`.
    public func flush(timeout: Duration) async throws {
        let client = self.client
        let error = await self.blockingQueue.run { rd_kafka_flush(client.handle, Int32(clamping: timeout.milliseconds)) }
        if error != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(rdKafka: error, context: "\(rd_kafka_outq_len(client.handle)) messages still in flight")
        }
    }

    /// Stops accepting messages, delivers everything in flight (up to the configured flush timeout)
    /// and stops polling. Safe to call more than once.
    public func shutdown() async {
        let alreadyShutDown = self.state.withLock { state in
            defer { state.isShutDown = true }
            return state.isShutDown
        }
        guard !alreadyShutDown else { return }
        do {
            try await self.flush(timeout: self.configuration.flushTimeout)
        } catch {
            self.logger.error("Kafka producer shut down with undelivered messages", metadata: ["error": "\(error)"])
            // Fail what is left, so every waiting `deliver` gets its (failed) report before polling stops.
            let client = self.client
            await self.blockingQueue.run {
                _ = rd_kafka_purge(client.handle, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
                _ = rd_kafka_flush(client.handle, 1000)
            }
        }
        self.stopPolling.set()
        // The poll loop runs on this serial queue: once this block runs, the loop has returned.
        await self.pollQueue.run {}
    }

    /// Runs until graceful shutdown is triggered, then flushes — put the producer before the services
    /// that send through it, so it stops after them.
    public func run() async throws {
        try? await gracefulShutdown()
        await self.shutdown()
    }

    /// The number of messages queued or in flight.
    public var inFlightCount: Int {
        Int(rd_kafka_outq_len(self.client.handle))
    }

    /// The topics and their partition counts as the cluster reports them.
    ///
    /// - Throws: `KafkaError` when no broker answers within `timeout`.
    public func partitionCounts(timeout: Duration) async throws -> [String: Int] {
        try await fetchPartitionCounts(client: self.client, queue: self.blockingQueue, timeout: timeout)
    }

    /// Queues under the lock that `shutdown()` takes, so nothing slips in after the final flush.
    private func enqueue(_ message: KafkaProducerMessage, continuation: UnsafeContinuation<KafkaDeliveryReport, any Error>?) throws -> KafkaProducerMessageID {
        try self.state.withLock { state in
            guard !state.isShutDown else { throw KafkaError.shutDown() }
            state.nextID += 1
            let id = KafkaProducerMessageID(rawValue: state.nextID)
            try self.produce(message, ticket: DeliveryTicket(id: id, continuation: continuation))
            return id
        }
    }

    private func produce(_ message: KafkaProducerMessage, ticket: DeliveryTicket) throws {
        let opaque = Unmanaged.passRetained(ticket).toOpaque()
        var headers: OpaquePointer?
        if !message.headers.isEmpty {
            headers = rd_kafka_headers_new(message.headers.count)
            for header in message.headers {
                if let value = header.value {
                    value.withUnsafeBytes { _ = rd_kafka_header_add(headers, header.key, -1, $0.baseAddress, $0.count) }
                } else {
                    _ = rd_kafka_header_add(headers, header.key, -1, nil, 0)
                }
            }
        }

        let error: OpaquePointer? = message.topic.withCString { topic in
            withOptionalBytes(message.key) { key in
                withOptionalBytes(message.value) { value in
                    var arguments = [rd_kafka_vu_t](repeating: rd_kafka_vu_t(), count: 7)
                    arguments[0].vtype = RD_KAFKA_VTYPE_TOPIC
                    arguments[0].u.cstr = topic
                    arguments[1].vtype = RD_KAFKA_VTYPE_PARTITION
                    arguments[1].u.i32 = message.partition.rawValue
                    arguments[2].vtype = RD_KAFKA_VTYPE_VALUE
                    arguments[2].u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                    arguments[2].u.mem.size = value.count
                    arguments[3].vtype = RD_KAFKA_VTYPE_KEY
                    arguments[3].u.mem.ptr = UnsafeMutableRawPointer(mutating: key.baseAddress)
                    arguments[3].u.mem.size = key.count
                    arguments[4].vtype = RD_KAFKA_VTYPE_MSGFLAGS
                    arguments[4].u.i = RD_KAFKA_MSG_F_COPY
                    arguments[5].vtype = RD_KAFKA_VTYPE_OPAQUE
                    arguments[5].u.ptr = opaque
                    var count = 6
                    if let headers {
                        arguments[6].vtype = RD_KAFKA_VTYPE_HEADERS
                        arguments[6].u.headers = headers
                        count = 7
                    }
                    return arguments.withUnsafeBufferPointer { rd_kafka_produceva(self.client.handle, $0.baseAddress, count) }
                }
            }
        }
        if let error {
            // Not queued: the ticket and the headers are still ours.
            Unmanaged<DeliveryTicket>.fromOpaque(opaque).release()
            if let headers { rd_kafka_headers_destroy(headers) }
            throw KafkaError(consuming: error, context: "cannot publish to \(message.topic)")
        }
    }
}

/// Lends the bytes of an optional array, or an empty buffer with a nil base address for `nil`.
private func withOptionalBytes<Result>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
    if let bytes {
        return bytes.withUnsafeBytes(body)
    }
    return body(UnsafeRawBufferPointer(start: nil, count: 0))
}

/// The one-shot state of one message in flight, passed retained as the message's opaque and taken
/// back exactly once by the delivery-report callback (or by `produce` when queueing fails).
private final class DeliveryTicket: Sendable {
    let id: KafkaProducerMessageID
    let continuation: UnsafeContinuation<KafkaDeliveryReport, any Error>?

    init(id: KafkaProducerMessageID, continuation: UnsafeContinuation<KafkaDeliveryReport, any Error>?) {
        self.id = id
        self.continuation = continuation
    }
}

/// Runs on the producer's poll queue (inside `rd_kafka_poll` or `rd_kafka_flush`).
private let deliveryReportCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
    _, message, opaque in
    guard let message, let ticketPointer = message.pointee._private else { return }
    let ticket = Unmanaged<DeliveryTicket>.fromOpaque(ticketPointer).takeRetainedValue()
    let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
    if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
        let report = KafkaDeliveryReport(
            id: ticket.id,
            topic: topic,
            partition: KafkaPartition(rawValue: message.pointee.partition),
            offset: KafkaOffset(rawValue: message.pointee.offset)
        )
        ticket.continuation?.resume(returning: report)
    } else {
        let error = KafkaError(rdKafka: message.pointee.err, context: "delivery to \(topic) failed")
        if let continuation = ticket.continuation {
            continuation.resume(throwing: error)
        } else if let opaque {
            RDKafkaContext.fromOpaque(opaque).logger.error(
                "Kafka message not delivered",
                metadata: ["kafka.message.id": "\(ticket.id)", "error": "\(error)"]
            )
        }
    }
}

/// Reads topic metadata from the cluster. Blocking; runs on `queue`.
func fetchPartitionCounts(client: RDKafkaClient, queue: DispatchQueue, timeout: Duration) async throws -> [String: Int] {
    try await queue.run {
        var metadataPointer: UnsafePointer<rd_kafka_metadata>?
        let error = rd_kafka_metadata(client.handle, 1, nil, &metadataPointer, Int32(clamping: timeout.milliseconds))
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata = metadataPointer else {
            throw KafkaError(rdKafka: error, context: "cannot read cluster metadata")
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        var result: [String: Int] = [:]
        for index in 0..<Int(metadata.pointee.topic_cnt) {
            let topic = metadata.pointee.topics[index]
            guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
            result[String(cString: topic.topic)] = Int(topic.partition_cnt)
        }
        return result
    }
}
