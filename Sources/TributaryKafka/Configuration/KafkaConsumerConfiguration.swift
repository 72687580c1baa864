/// Consumer-group settings. Offsets are never committed for messages the caller has not marked processed.
public struct KafkaConsumerConfiguration: Sendable {
    /// Cluster connection and security.
    public var kafka: KafkaConfiguration
    /// `group.id`. Required.
    public var groupID: String
    /// `session.timeout.ms`: a member silent for this long is removed from the group. Default 45 s.
    public var sessionTimeout: Duration = .seconds(45)
    /// `heartbeat.interval.ms`. Default 3 s.
    public var heartbeatInterval: Duration = .seconds(3)
    /// `max.poll.interval.ms`: a member that does not ask for messages for this long leaves the group. Default 5 min.
    public var maximumPollInterval: Duration = .seconds(300)
    /// `auto.offset.reset` for partitions with no committed offset. Default `.earliest`, so a new group
    /// processes what was published before it started.
    public var autoOffsetReset: OffsetReset = .earliest
    /// How processed offsets reach the broker. Default `.manual`.
    public var commitPolicy: CommitPolicy = .manual
    /// `fetch.wait.max.ms`: how long a fetch waits for data. Default 25 ms: a real broker answers
    /// as soon as data arrives, but the embedded mock cluster waits this long, and every hop of
    /// push→applied pays it; idle consumers send more (cheap) fetches in exchange.
    public var fetchMaximumWait: Duration = .milliseconds(25)
    /// `partition.assignment.strategy`. Default `range,roundrobin` (eager rebalancing).
    public var assignmentStrategy: String = "range,roundrobin"

    public init(kafka: KafkaConfiguration, groupID: String) {
        self.kafka = kafka
        self.groupID = groupID
    }

    /// A member that leaves the group's view `sessionTimeout` after it dies, heartbeating ten
    /// times per timeout (at least every 100 ms).
    public init(kafka: KafkaConfiguration, groupID: String, sessionTimeout: Duration) {
        self.init(kafka: kafka, groupID: groupID)
        self.sessionTimeout = sessionTimeout
        self.heartbeatInterval = max(sessionTimeout / 10, .milliseconds(100))
    }

    /// Where to start reading a partition that has no committed offset.
    public enum OffsetReset: String, Sendable {
        case earliest
        case latest
    }

    /// How offsets marked processed with `KafkaConsumer/storeOffset(_:)` are committed.
    public enum CommitPolicy: Sendable, Equatable {
        /// Only by `KafkaConsumer/commit()` / `commit(_:)`, on revocation and on close.
        case manual
        /// Also every `interval` (`auto.commit.interval.ms`) — still only offsets marked processed.
        case automatic(interval: Duration)
    }

    var properties: [String: String] {
        var result = self.kafka.commonProperties
        result["group.id"] = self.groupID
        result["session.timeout.ms"] = String(self.sessionTimeout.milliseconds)
        result["heartbeat.interval.ms"] = String(self.heartbeatInterval.milliseconds)
        result["max.poll.interval.ms"] = String(self.maximumPollInterval.milliseconds)
        result["auto.offset.reset"] = self.autoOffsetReset.rawValue
        result["partition.assignment.strategy"] = self.assignmentStrategy
        result["fetch.wait.max.ms"] = String(self.fetchMaximumWait.milliseconds)
        // Offsets are stored only by the caller once a message is processed; commits carry stored offsets only.
        result["enable.auto.offset.store"] = "false"
        switch self.commitPolicy {
        case .manual:
            result["enable.auto.commit"] = "false"
        case .automatic(let interval):
            result["enable.auto.commit"] = "true"
            result["auto.commit.interval.ms"] = String(interval.milliseconds)
        }
        result["enable.partition.eof"] = "false"
        result.merge(self.kafka.properties) { _, explicit in explicit }
        return result
    }
}
