import Foundation

/// One notification to deliver: the data of a `dev.tributary.notification` CloudEvent on
/// `<prefix>.notifications`, keyed by `sink/app`. At most one is delivered per
/// (`app`, `trigger`, `revision`, `sink`).
public struct NotificationEvent: Codable, Hashable, Sendable {
    public static let eventType = "dev.tributary.notification"

    /// The configured sink that delivers it.
    public var sink: String
    public var app: String
    /// The trigger that fired: `on-sync-succeeded`, `on-sync-failed`, `on-drift-detected`, `on-healed`, `on-health-changed`, `on-out-of-sync`.
    public var trigger: String
    public var revision: String
    /// The CloudEvent id of the sync event that fired the trigger.
    public var syncEventID: String
    /// The sync event itself, so delivery needs nothing else.
    public var sync: SyncEvent
    /// Delivery attempts so far (0 before the first).
    public var deliveryAttempt: Int
    public var createdAt: Date

    public init(sink: String, app: String, trigger: String, revision: String, syncEventID: String, sync: SyncEvent, deliveryAttempt: Int = 0, createdAt: Date = Date()) {
        self.sink = sink
        self.app = app
        self.trigger = trigger
        self.revision = revision
        self.syncEventID = syncEventID
        self.sync = sync
        self.deliveryAttempt = deliveryAttempt
        self.createdAt = createdAt
    }

    /// The identity delivery is deduplicated on.
    public var deduplicationKey: String {
        "\(self.sink)/\(self.app)/\(self.trigger)/\(self.revision)"
    }
}
