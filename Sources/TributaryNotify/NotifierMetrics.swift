import Synchronization

/// Notification outcomes for `/metrics`: delivered, retried, duplicate, suppressed, dead-lettered.
public final class NotifierMetrics: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    public init() {}

    func record(_ outcome: String) {
        self.counts.withLock { $0[outcome, default: 0] += 1 }
    }

    /// How many notifications ended with `outcome`.
    public func count(_ outcome: String) -> Int {
        self.counts.withLock { $0[outcome] ?? 0 }
    }

    /// Prometheus text exposition format.
    public func render() -> String {
        let counts = self.counts.withLock { $0 }
        var text = "# HELP tributary_notifications_total Notifications by outcome.\n# TYPE tributary_notifications_total counter\n"
        for outcome in ["delivered", "retried", "duplicate", "suppressed", "dead-lettered"] {
            text += "tributary_notifications_total{outcome=\"\(outcome)\"} \(counts[outcome] ?? 0)\n"
        }
        return text
    }
}
