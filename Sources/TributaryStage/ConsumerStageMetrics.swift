import Synchronization

/// Counts of what a stage did with its messages, for `/metrics`.
public final class ConsumerStageMetrics: Sendable {
    public enum Outcome: String, CaseIterable, Sendable {
        case handled
        case retried
        case deadLettered = "dead-lettered"
        case deadLetterWriteFailed = "dead-letter-write-failed"
        case leftUncommitted = "left-uncommitted"
    }

    public let stage: String
    private let counts = Mutex<[Outcome: Int]>([:])
    private let commitRounds = Atomic<Int>(0)

    init(stage: String) {
        self.stage = stage
    }

    func record(_ outcome: Outcome) {
        self.counts.withLock { $0[outcome, default: 0] += 1 }
    }

    public func count(_ outcome: Outcome) -> Int {
        self.counts.withLock { $0[outcome] ?? 0 }
    }

    /// A pass of the commit loop ended (whether or not it had anything new to commit).
    func recordCommitRound() {
        self.commitRounds.add(1, ordering: .relaxed)
    }

    /// How many passes the commit loop has made.
    public var commitRoundCount: Int {
        self.commitRounds.load(ordering: .relaxed)
    }

    /// `tributary_stage_messages_total{stage,outcome}`, the partitions held by a dead letter, and
    /// the commit loop's passes (a position that stays put across passes is held by a message).
    public func render(stalledPartitions: Int) -> String {
        let counts = self.counts.withLock { $0 }
        var text = "# TYPE tributary_stage_messages_total counter\n"
        for outcome in Outcome.allCases {
            text += "tributary_stage_messages_total{stage=\"\(self.stage)\",outcome=\"\(outcome.rawValue)\"} \(counts[outcome] ?? 0)\n"
        }
        text += "# TYPE tributary_stage_stalled_partitions gauge\n"
        text += "tributary_stage_stalled_partitions{stage=\"\(self.stage)\"} \(stalledPartitions)\n"
        text += "# TYPE tributary_stage_commit_rounds_total counter\n"
        text += "tributary_stage_commit_rounds_total{stage=\"\(self.stage)\"} \(self.commitRoundCount)\n"
        return text
    }
}
