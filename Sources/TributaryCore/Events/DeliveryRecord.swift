import Foundation

/// One record of the notifier's delivery ledger, `<prefix>.delivered` (plain JSON, keyed by the
/// notification's deduplication key `sink/app/trigger/revision`): a notification is done.
public struct DeliveryRecord: Codable, Hashable, Sendable {
    public enum Outcome: String, Codable, Sendable {
        case delivered
        case deadLettered = "dead-lettered"
        /// Within the trigger's `minInterval` of the previous one.
        case suppressed
    }

    public var sink: String
    public var app: String
    public var trigger: String
    public var revision: String
    public var outcome: Outcome
    public var at: Date

    public init(sink: String, app: String, trigger: String, revision: String, outcome: Outcome, at: Date) {
        self.sink = sink
        self.app = app
        self.trigger = trigger
        self.revision = revision
        self.outcome = outcome
        self.at = at
    }
}
