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
///
/// A librdkafka handle whose producer id the broker has fenced (a broker that restarted and forgot
/// it answers INVALID_PRODUCER_EPOCH to every record) or that raised a fatal error never produces
/// again; librdkafka's remedy is a new handle. `deliver` makes one when it sees such a failure, so
/// the next records go out under a new producer id, and the old handle is polled until its last
/// report is in, then destroyed.
public final class KafkaProducer: Service, Sendable {
    private let configuration: KafkaProducerConfiguration
    private let logger: Logger
    /// Shared with the poll loop, which must not keep the producer alive.
    private let shared: Shared
    private let stopPolling = StopFlag()
    private let pollQueue = DispatchQueue(label: "tributary.kafka.producer.poll")
    private let blockingQueue = DispatchQueue(label: "tributary.kafka.producer.blocking")

    private struct State {
        var client: RDKafkaClient
        /// Bumped with each new handle; a failure replaces the handle only if it is still the one it failed on.
        var generation = 0
        /// Replaced handles with reports still to come.
        var retired: [RDKafkaClient] = []
        var nextID: UInt64 = 0
        var isShutDown = false
    }

    private final class Shared: Sendable {
        let state: Mutex<State>
        init(_ state: State) { self.state = Mutex(state) }
    }

    /// The handle in use now.
    private var client: RDKafkaClient { self.shared.state.withLock { $0.client } }

    /// How many times the handle was replaced after a fencing or fatal error.
    public var replacements: Int { self.shared.state.withLock { $0.generation } }

    /// Creates the producer and starts serving delivery reports.
    ///
    /// - Throws: `KafkaError.configuration` when librdkafka rejects a property.
    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.shared = Shared(State(client: try Self.makeClient(configuration: configuration, logger: logger)))
        let shared = self.shared
        let stop = self.stopPolling
        // rd_kafka_poll serves delivery reports and callbacks; 50 ms bounds how long shutdown waits for the loop.
        self.pollQueue.async {
            while !stop.isSet {
                let (client, retired) = shared.state.withLock { ($0.client, $0.retired) }
                if !retired.isEmpty {
                    for old in retired { rd_kafka_poll(old.handle, 0) }
                    // Dropped once nothing of theirs is in flight: the last reference destroys the handle.
                    shared.state.withLock { $0.retired.removeAll { rd_kafka_outq_len($0.handle) == 0 } }
                }
                rd_kafka_poll(client.handle, 50)
            }
        }
    }

    private static func makeClient(configuration: KafkaProducerConfiguration, logger: Logger) throws -> RDKafkaClient {
        try RDKafkaClient(
            type: RD_KAFKA_PRODUCER,
            properties: configuration.properties,
            context: RDKafkaContext(logger: logger),
            configure: { conf in rd_kafka_conf_set_dr_msg_cb(conf, deliveryReportCallback) }
        )
    }

    /// Whether a delivery failure means the handle will never produce again.
    static func needsNewClient(_ error: KafkaError) -> Bool {
        if error.isFatal { return true }
        return error.rdKafkaCode.map { code in
            [RD_KAFKA_RESP_ERR__FATAL, RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH, RD_KAFKA_RESP_ERR_PRODUCER_FENCED].map(\.rawValue).contains(code)
        } ?? false
    }

    /// Swaps in a new handle, unless the one of `generation` was already replaced or the producer is shut down.
    private func replaceClient(generation: Int, after error: KafkaError) {
        let replaced: Bool
        do {
            replaced = try self.shared.state.withLock { state in
                guard state.generation == generation, !state.isShutDown else { return false }
                let fresh = try Self.makeClient(configuration: self.configuration, logger: self.logger)
                state.retired.append(state.client)
                state.client = fresh
                state.generation += 1
                return true
            }
        } catch {
            self.logger.error("Cannot create a new Kafka producer", metadata: ["error": "\(error)"])
            return
        }
        if replaced {
            self.logger.warning("Kafka producer fenced or failed; its records now go out through a new producer", metadata: ["error": "\(error)"])
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
        try self.enqueue(message, continuation: nil).id
    }

    /// Publishes a message and waits until the broker acknowledges it — the async send.
    ///
    /// - Returns: where the broker stored the message.
    /// - Throws: `KafkaError` when it cannot be queued or its delivery fails (`timedOut` after
    ///   `message.timeout.ms`, for example).
    public func deliver(_ message: KafkaProducerMessage) async throws -> KafkaDeliveryReport {
        var generation = 0
        do {
            // Unsafe: the ticket resumes it exactly once (see `DeliveryTicket`), and the checked variant
            // costs an allocation per message on the listener's hot path.
            return try await withUnsafeThrowingContinuation { continuation in
                do {
                    generation = try self.enqueue(message, continuation: continuation).generation
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        } catch let error as KafkaError where Self.needsNewClient(error) {
            self.replaceClient(generation: generation, after: error)
            throw error
        }
    }

    /// Waits until every message in flight has a delivery report, or `timeout` passes.
    ///
    /// - Throws: `KafkaError.timedOut` when messages are still in flight after `timeout`.
    public func flush(timeout: Duration) async throws {
        let clients = self.allClients
        let deadline = ContinuousClock.now + timeout
        for client in clients {
            let left = max(deadline - ContinuousClock.now, .zero)
            let error = await self.blockingQueue.run { rd_kafka_flush(client.handle, Int32(clamping: left.milliseconds)) }
            if error != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError(rdKafka: error, context: "\(clients.map { rd_kafka_outq_len($0.handle) }.reduce(0, +)) messages still in flight")
            }
        }
    }

    /// The handle in use and the replaced ones with reports still to come.
    private var allClients: [RDKafkaClient] { self.shared.state.withLock { [$0.client] + $0.retired } }

    /// Stops accepting messages, delivers everything in flight (up to the configured flush timeout)
    /// and stops polling. Safe to call more than once.
    public func shutdown() async {
        let alreadyShutDown = self.shared.state.withLock { state in
            defer { state.isShutDown = true }
            return state.isShutDown
        }
        guard !alreadyShutDown else { return }
        do {
            try await self.flush(timeout: self.configuration.flushTimeout)
        } catch {
            self.logger.error("Kafka producer shut down with undelivered messages", metadata: ["error": "\(error)"])
            // Fail what is left, so every waiting `deliver` gets its (failed) report before polling stops.
            let clients = self.allClients
            await self.blockingQueue.run {
                for client in clients {
                    _ = rd_kafka_purge(client.handle, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
                    _ = rd_kafka_flush(client.handle, 1000)
                }
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
        self.allClients.map { Int(rd_kafka_outq_len($0.handle)) }.reduce(0, +)
    }

    /// The topics and their partition counts as the cluster reports them.
    ///
    /// - Throws: `KafkaError` when no broker answers within `timeout`.
    public func partitionCounts(timeout: Duration) async throws -> [String: Int] {
        try await fetchPartitionCounts(client: self.client, queue: self.blockingQueue, timeout: timeout)
    }

    /// Queues under the lock that `shutdown()` takes, so nothing slips in after the final flush.
    private func enqueue(
        _ message: KafkaProducerMessage, continuation: UnsafeContinuation<KafkaDeliveryReport, any Error>?
    ) throws -> (id: KafkaProducerMessageID, generation: Int) {
        try self.shared.state.withLock { state in
            guard !state.isShutDown else { throw KafkaError.shutDown() }
            state.nextID += 1
            let id = KafkaProducerMessageID(rawValue: state.nextID)
            try Self.produce(message, on: state.client, ticket: DeliveryTicket(id: id, continuation: continuation))
            return (id, state.generation)
        }
    }

    private static func produce(_ message: KafkaProducerMessage, on client: RDKafkaClient, ticket: DeliveryTicket) throws {
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
                    return arguments.withUnsafeBufferPointer { rd_kafka_produceva(client.handle, $0.baseAddress, count) }
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
