import TributaryKafka

/// The listener's two ways to Kafka. A change event goes out at once (`linger.ms` 0) while few are
/// in flight, and through a producer that lingers 1 ms to batch when many are: a linger costs its
/// whole length on every request at low concurrency, and no linger at high concurrency sends one
/// produce request per record. Measured with `scripts/bench/listener` (requests/s and p50 at 2
/// connections; requests/s at 32): linger 1 ms alone 1,052 / 1.82 ms; 5,711; linger 0 alone
/// 2,014 / 0.87 ms; 1,408. Both lanes, immediate while nothing is in flight: 1,608 / 1.21 ms;
/// 6,914. Immediate while fewer than 2 are: 2,327 / 0.77 ms; 3,623 — each wave of requests then
/// starts with two single-record produce requests.
///
/// Using two producers keeps every order the listener promises: a request is answered 2xx only
/// once its records are acknowledged, so only requests in flight together — which have no order —
/// can overtake each other.
public struct ListenerPublisher: Sendable {
    public let immediate: KafkaProducer
    public let batching: KafkaProducer

    /// Records in flight (on both producers: the load, not one lane's share of it) from which new
    /// ones take the batching producer: 1, so only a record with nothing ahead of it skips the linger.
    static let immediateLimit = 1

    public init(immediate: KafkaProducer, batching: KafkaProducer) {
        self.immediate = immediate
        self.batching = batching
    }

    /// One producer for both (tests, tools).
    public init(_ producer: KafkaProducer) {
        self.init(immediate: producer, batching: producer)
    }

    /// Whether a record goes out on the immediate producer, given what it has in flight.
    static func usesImmediate(inFlight: Int) -> Bool {
        inFlight < Self.immediateLimit
    }

    func deliver(_ message: KafkaProducerMessage) async throws -> KafkaDeliveryReport {
        let inFlight = self.immediate === self.batching ? 0 : self.immediate.inFlightCount + self.batching.inFlightCount
        let producer = Self.usesImmediate(inFlight: inFlight) ? self.immediate : self.batching
        return try await producer.deliver(message)
    }

    /// The distinct producers, each to be run as a service.
    public var producers: [KafkaProducer] {
        self.immediate === self.batching ? [self.immediate] : [self.immediate, self.batching]
    }
}
