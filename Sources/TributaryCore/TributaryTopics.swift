/// The Kafka topics Tributary reads and writes, named `<prefix>.<role>`.
public struct TributaryTopics: Hashable, Sendable {
    /// The prefix. Default `tributary`.
    public var prefix: String

    public init(prefix: String = "tributary") {
        self.prefix = prefix
    }

    /// Change events from the listener (`dev.tributary.git.push`), keyed by repository.
    public var changes: String { "\(self.prefix).changes" }
    /// Sync requests from the planner, keyed by app, for the default worker group.
    public var requests: String { "\(self.prefix).requests" }

    /// Sync requests for the worker group of `cluster` (an app's `destination.name`); the default
    /// group's topic for nil.
    public func requests(cluster: String?) -> String {
        cluster.map { "\(self.requests).\($0)" } ?? self.requests
    }

    /// Sync events from the workers, keyed by app. The topic users subscribe to.
    public var sync: String { "\(self.prefix).sync" }
    /// Notification events from the notifier, keyed by sink and app.
    public var notifications: String { "\(self.prefix).notifications" }
    /// Dead letters: notifications (and other records) that could not be handled, with the reason.
    public var deadLetters: String { "\(self.prefix).dlq" }

    /// The notifier's delivery ledger: one record per notification delivered (or dead-lettered),
    /// keyed by its deduplication key, written to the partition of the notification it records.
    /// Create it compacted (`cleanup.policy=compact`) with the partition count of `notifications`.
    public var delivered: String { "\(self.prefix).delivered" }

    /// Operators' standing instructions per app (`AppControl`: suspend and resume), keyed by app
    /// name, plain JSON; every worker reads all of it. Written by `tributary suspend` and `resume`.
    /// Create it compacted (`cleanup.policy=compact`); one partition is enough.
    public var controls: String { "\(self.prefix).controls" }

    /// The topics to create with `cleanup.policy=compact`: the last record per key is their state.
    public var compacted: Set<String> { [self.delivered, self.controls] }

    /// Every topic, in pipeline order.
    public var all: [String] { [self.changes, self.requests, self.sync, self.notifications, self.delivered, self.deadLetters, self.controls] }
}
