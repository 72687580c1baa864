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
    /// The cluster (`destination.name`) whose worker group synced the app; nil for the default group.
    public var cluster: String?
    /// Counts of what the sync did.
    public var resources: ResourceCounts?
    /// The app's health after the sync, for Kubernetes destinations.
    public var health: Health?
    /// For `out-of-sync`: what a sync would change.
    public var difference: Difference?
    /// Why it failed or was skipped; never contains a secret.
    public var message: String?
    /// For failures caused by a file: where.
    public var error: SourceError?
    /// The CloudEvent id of the change event that caused this sync, if any.
    public var changeID: String?
    /// The Git host's delivery id of the push that caused this sync, so one push can be traced
    /// from webhook to target.
    public var deliveryID: String?
    /// When the listener received that push; push→applied latency is `finishedAt - receivedAt`.
    public var receivedAt: Date?
    public var startedAt: Date
    public var finishedAt: Date
    /// Time spent in each stage, in milliseconds.
    public var timings: Timings?

    /// Wall time of the sync, in milliseconds.
    public var durationMilliseconds: Double { self.finishedAt.timeIntervalSince(self.startedAt) * 1000 }

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
        deliveryID: String? = nil,
        receivedAt: Date? = nil,
        startedAt: Date,
        finishedAt: Date,
        timings: Timings? = nil
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
        self.deliveryID = deliveryID
        self.receivedAt = receivedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.timings = timings
    }

    private enum CodingKeys: String, CodingKey {
        case app, project, repository, ref, revision, previousRevision, phase, attempt, trigger, destination, cluster, resources, health, difference
        case message, error, changeID, deliveryID, receivedAt, startedAt, finishedAt, timings, durationMilliseconds
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.app = try container.decode(String.self, forKey: .app)
        self.project = try container.decode(String.self, forKey: .project)
        self.repository = try container.decode(String.self, forKey: .repository)
        self.ref = try container.decode(String.self, forKey: .ref)
        self.revision = try container.decode(String.self, forKey: .revision)
        self.previousRevision = try container.decodeIfPresent(String.self, forKey: .previousRevision)
        self.phase = try container.decode(Phase.self, forKey: .phase)
        self.attempt = try container.decodeIfPresent(Int.self, forKey: .attempt) ?? 1
        self.trigger = try container.decodeIfPresent(String.self, forKey: .trigger) ?? "change"
        self.destination = try container.decode(String.self, forKey: .destination)
        self.cluster = try container.decodeIfPresent(String.self, forKey: .cluster)
        self.resources = try container.decodeIfPresent(ResourceCounts.self, forKey: .resources)
        self.health = try container.decodeIfPresent(Health.self, forKey: .health)
        self.difference = try container.decodeIfPresent(Difference.self, forKey: .difference)
        self.message = try container.decodeIfPresent(String.self, forKey: .message)
        self.error = try container.decodeIfPresent(SourceError.self, forKey: .error)
        self.changeID = try container.decodeIfPresent(String.self, forKey: .changeID)
        self.deliveryID = try container.decodeIfPresent(String.self, forKey: .deliveryID)
        self.receivedAt = try container.decodeIfPresent(Date.self, forKey: .receivedAt)
        self.startedAt = try container.decode(Date.self, forKey: .startedAt)
        self.finishedAt = try container.decode(Date.self, forKey: .finishedAt)
        self.timings = try container.decodeIfPresent(Timings.self, forKey: .timings)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.app, forKey: .app)
        try container.encode(self.project, forKey: .project)
        try container.encode(self.repository, forKey: .repository)
        try container.encode(self.ref, forKey: .ref)
        try container.encode(self.revision, forKey: .revision)
        try container.encodeIfPresent(self.previousRevision, forKey: .previousRevision)
        try container.encode(self.phase, forKey: .phase)
        try container.encode(self.attempt, forKey: .attempt)
        try container.encode(self.trigger, forKey: .trigger)
        try container.encode(self.destination, forKey: .destination)
        try container.encodeIfPresent(self.cluster, forKey: .cluster)
        try container.encodeIfPresent(self.resources, forKey: .resources)
        try container.encodeIfPresent(self.health, forKey: .health)
        try container.encodeIfPresent(self.difference, forKey: .difference)
        try container.encodeIfPresent(self.message, forKey: .message)
        try container.encodeIfPresent(self.error, forKey: .error)
        try container.encodeIfPresent(self.changeID, forKey: .changeID)
        try container.encodeIfPresent(self.deliveryID, forKey: .deliveryID)
        try container.encodeIfPresent(self.receivedAt, forKey: .receivedAt)
        try container.encode(self.startedAt, forKey: .startedAt)
        try container.encode(self.finishedAt, forKey: .finishedAt)
        // Derived, for subscribers' convenience.
        try container.encode((self.durationMilliseconds * 1000).rounded() / 1000, forKey: .durationMilliseconds)
        try container.encodeIfPresent(self.timings, forKey: .timings)
    }

    /// Milliseconds spent fetching, rendering and applying.
    public struct Timings: Codable, Hashable, Sendable {
        public var fetchMilliseconds: Double
        public var renderMilliseconds: Double
        public var applyMilliseconds: Double

        public init(fetchMilliseconds: Double = 0, renderMilliseconds: Double = 0, applyMilliseconds: Double = 0) {
            self.fetchMilliseconds = fetchMilliseconds
            self.renderMilliseconds = renderMilliseconds
            self.applyMilliseconds = applyMilliseconds
        }
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
        case driftDetected = "drift-detected"
        /// Drift was repaired (self-heal).
        case healed
        /// The app's health changed since the last event (Kubernetes destinations).
        case healthChanged = "health-changed"
        /// A manual app's target differs from its rendering; `difference` says how. Nothing was applied.
        case outOfSync = "out-of-sync"
        /// A manual app's target matches its rendering again (reported once).
        case synced
    }

    /// What a sync would change in the target: objects (or files) created, updated and deleted.
    public struct Difference: Codable, Hashable, Sendable {
        public var create: [String]
        public var update: [String]
        public var delete: [String]

        public init(create: [String] = [], update: [String] = [], delete: [String] = []) {
            self.create = create
            self.update = update
            self.delete = delete
        }

        public var isEmpty: Bool { self.create.isEmpty && self.update.isEmpty && self.delete.isEmpty }

        /// `create: a, b; update: c; delete: d`, for messages.
        public var summary: String {
            [("create", self.create), ("update", self.update), ("delete", self.delete)].filter { !$0.1.isEmpty }
                .map { "\($0.0): \($0.1.joined(separator: ", "))" }.joined(separator: "; ")
        }
    }

    /// An app's health, in gitops-engine's terms: `Healthy`, `Suspended`, `Progressing`,
    /// `Missing`, `Degraded` or `Unknown`, with the reason of its least healthy object.
    public struct Health: Codable, Hashable, Sendable {
        public var status: String
        public var message: String?

        public init(status: String, message: String? = nil) {
            self.status = status
            self.message = message
        }
    }

    public struct ResourceCounts: Codable, Hashable, Sendable {
        public var created: Int
        public var updated: Int
        public var unchanged: Int
        /// Owned resources no longer rendered and removed (prune).
        public var pruned: Int
        /// Owned resources no longer rendered but kept because prune is off.
        public var orphaned: Int

        public init(created: Int = 0, updated: Int = 0, unchanged: Int = 0, pruned: Int = 0, orphaned: Int = 0) {
            self.created = created
            self.updated = updated
            self.unchanged = unchanged
            self.pruned = pruned
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
