import TributaryKafka

/// What a stage's handler made of one message.
public enum ConsumerStageOutcome: Sendable, Equatable {
    /// Handled: publish these records; the message is committed once every one is acknowledged.
    case done([KafkaProducerMessage])
    /// Not handled yet (a source or a sink is away, a configuration is missing): call the handler
    /// again after `after`. Nothing after the message in its partition is committed meanwhile.
    case retry(after: Duration, reason: String)
    /// Cannot be handled: copy the message to the dead-letter topic with `reason`, publish
    /// `alsoPublishing` too, and commit only once all of it is acknowledged.
    case deadLetter(reason: String, alsoPublishing: [KafkaProducerMessage] = [])
    /// The handler stopped because the partition moved or the process is stopping: leave the
    /// message uncommitted for the partition's next owner.
    case abandon
}

/// What a handler is told about the message it handles.
public struct ConsumerStageContext: Sendable {
    /// 1 for the first call, then one more for each `.retry`.
    public var attempt: Int
    private let current: @Sendable () -> Bool

    init(attempt: Int, isCurrent: @escaping @Sendable () -> Bool) {
        self.attempt = attempt
        self.current = isCurrent
    }

    /// Whether the message is still this member's to handle: its partition was not revoked and
    /// the process is not stopping. Long handlers check it between steps and `.abandon` when false.
    public var isCurrent: Bool { self.current() }
}
