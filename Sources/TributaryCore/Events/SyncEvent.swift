import Foundation

/// The outcome of reconciling one app at one revision: the data of a `dev.tributary.sync.<phase>`
/// CloudEvent on `<prefix>.sync`, keyed by app name. This is the topic users subscribe to.
public struct SyncEvent: Codable, Hashable, Sendable {
    /// The CloudEvents type for a phase: `dev.tributary.sync.succeeded`, `...failed`, ...
    public static func eventType(for phase: Phase) -> String { "dev.tributary.sync.\(phase.rawValue)" }

    public var app: String
    public var project: String
    /// The repository key the app's source lives in.
    public var repository: String
    /// The ref the app follows.
    public var ref: String
    /// The commit synced (or attempted).
    public var revision: String
    /// The commit the target held before, if any.
    public var previousRevision: String?
    public var phase: Phase
    /// 1 for the first try; retries count up.
    public var attempt: Int
    /// What triggered the sync: `change`, `interval`, `retry`, `manual`.
    public var trigger: String
    /// The destination, as `directory:/path` or `git:url#branch`.
    public var destination: String
    /// Counts of what the sync did.
    public var resources: ResourceCounts?
    /// Why it failed or was skipped; never contains a secret.
    public var message: String?
    /// For failures caused by a file: where.
    public var error: SourceError?
    /// The CloudEvent id of the change event that caused this sync, if any.
    public var changeID: String?
    public var startedAt: Date
    public var finishedAt: Date

    public init(
        app: String,
        project: String,
        repository: String,
        ref: String,
        revision: String,
        previousRevision: String? = nil,
        phase: Phase,
        attempt: Int = 1,
        trigger: String = "change",
        destination: String,
        resources: ResourceCounts? = nil,
        message: String? = nil,
        error: SourceError? = nil,
        changeID: String? = nil,
        startedAt: Date,
        finishedAt: Date
    ) {
        self.app = app
        self.project = project
        self.repository = repository
        self.ref = ref
        self.revision = revision
        self.previousRevision = previousRevision
        self.phase = phase
        self.attempt = attempt
        self.trigger = trigger
        self.destination = destination
        self.resources = resources
        self.message = message
        self.error = error
        self.changeID = changeID
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }

    public enum Phase: String, Codable, Hashable, Sendable, CaseIterable {
        /// The target now holds the revision's manifests.
        case succeeded
        /// The sync failed; the target keeps its last good state.
        case failed
        /// The change did not touch the app's path.
        case skipped
        /// A newer revision was already synced; this change needs no work of its own.
        case coalesced
        /// The target had drifted from the last sync.
        case driftDetected
        /// Drift was repaired (self-heal).
        case healed
    }

    public struct ResourceCounts: Codable, Hashable, Sendable {
        public var created: Int
        public var updated: Int
        public var unchanged: Int
        public var deleted: Int
        /// Owned resources no longer rendered but kept because prune is off.
        public var orphaned: Int

        public init(created: Int = 0, updated: Int = 0, unchanged: Int = 0, deleted: Int = 0, orphaned: Int = 0) {
            self.created = created
            self.updated = updated
            self.unchanged = unchanged
            self.deleted = deleted
            self.orphaned = orphaned
        }
    }

    /// A failure located in the app's source.
    public struct SourceError: Codable, Hashable, Sendable {
        public var file: String
        public var line: Int?
        public var message: String

        public init(file: String, line: Int? = nil, message: String) {
            self.file = file
            self.line = line
            self.message = message
        }
    }
}
