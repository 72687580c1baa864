/// Producer settings. Defaults favour durability: nothing is acknowledged that a broker quorum does not hold.
public struct KafkaProducerConfiguration: Sendable {
    /// Cluster connection and security.
    public var kafka: KafkaConfiguration
    /// `enable.idempotence`: no duplicates or reordering from internal retries. Default `true`.
    public var isIdempotent: Bool = true
    /// `acks`: `all`, `1` or `0`. Default `all` (required by idempotence).
    public var acks: String = "all"
    /// `linger.ms`: how long to wait to batch messages. Default 5 ms.
    public var linger: Duration = .milliseconds(5)
    /// `message.timeout.ms`: a message not acknowledged within this fails its delivery report. Default 30 s.
    public var messageTimeout: Duration = .seconds(30)
    /// `compression.codec`: `none`, `gzip`, `snappy`, `lz4`, `zstd`. Default `none`.
    public var compression: String = "none"
    /// `queue.buffering.max.messages`: local in-flight limit; past it `send` throws `queueFull`. Default 100 000.
    public var maximumQueuedMessages: Int = 100_000
    /// `partitioner`. Default `murmur2_random`: the Java client's key hash, so Tributary and Java
    /// producers put a key on the same partition and `KafkaPartitioner` can say which in advance.
    public var partitioner: String = "murmur2_random"
    /// How long `shutdown()` waits for in-flight messages. Default 30 s.
    public var flushTimeout: Duration = .seconds(30)

    public init(kafka: KafkaConfiguration) {
        self.kafka = kafka
    }

    var properties: [String: String] {
        var result = self.kafka.commonProperties
        result["enable.idempotence"] = String(self.isIdempotent)
        result["acks"] = self.acks
        result["linger.ms"] = String(self.linger.milliseconds)
        result["message.timeout.ms"] = String(self.messageTimeout.milliseconds)
        result["compression.codec"] = self.compression
        result["queue.buffering.max.messages"] = String(self.maximumQueuedMessages)
        result["partitioner"] = self.partitioner
        result.merge(self.kafka.properties) { _, explicit in explicit }
        return result
    }
}
