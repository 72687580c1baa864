import Foundation

/// One app to sync at one commit: the data of a `dev.tributary.sync.request` CloudEvent on
/// `<prefix>.requests` (or `<prefix>.requests.<cluster>` for an app whose `destination.name`
/// names a cluster), keyed by app name. The planner publishes one per app a push concerns, on
/// partition `KafkaPartitioner.partition(forKey: app, partitionCount:)` — murmur2 of the app
/// name, as the Java client — and the worker that owns that partition syncs the app.
public struct SyncRequest: Codable, Hashable, Sendable {
    /// The CloudEvents type of sync requests.
    public static let eventType = "dev.tributary.sync.request"

    public var app: String
    /// The app's `destination.name`; nil for the default worker group.
    public var cluster: String?
    /// The repository key.
    public var repository: String
    /// The ref pushed to, `refs/heads/main`.
    public var ref: String
    /// The commit the ref pointed to when the push was planned: every worker renders this tree.
    /// Empty when the ref was deleted.
    public var revision: String
    /// The ref's commit before the push (all zeros when created).
    public var before: String
    /// Whether the diff from `before` to `revision` touches the app's path; true when unknown
    /// (a created ref, a force-push). A kustomization may read outside the path: the worker
    /// decides for those.
    public var touchesPath: Bool
    /// The ref was deleted: the target keeps its last state.
    public var deleted: Bool
    /// The partition count of the requests topic the planner used, so a worker can tell that the
    /// count changed.
    public var partitionCount: Int
    /// The change event's `ce_id`, the host's delivery id and when the listener received the push.
    public var changeID: String
    public var deliveryID: String
    public var receivedAt: Date
    public var plannedAt: Date
    /// Set for a sync asked for by hand (`tributary sync`), not by a push: `ref` is then the
    /// branch, tag or SHA to sync (the app's `targetRevision` unless given) and `revision` empty —
    /// the worker resolves it.
    public var manual: Manual?

    /// A sync by hand: applied whether or not the app is automated.
    public struct Manual: Codable, Hashable, Sendable {
        /// Delete owned resources no longer rendered.
        public var prune: Bool
        /// Compare only: the event is `out-of-sync` or `synced`, nothing is applied.
        public var dryRun: Bool

        public init(prune: Bool, dryRun: Bool) {
            self.prune = prune
            self.dryRun = dryRun
        }
    }

    public init(
        app: String, cluster: String?, repository: String, ref: String, revision: String, before: String, touchesPath: Bool,
        deleted: Bool, partitionCount: Int, changeID: String, deliveryID: String, receivedAt: Date, plannedAt: Date = Date()
    ) {
        self.app = app
        self.cluster = cluster
        self.repository = repository
        self.ref = ref
        self.revision = revision
        self.before = before
        self.touchesPath = touchesPath
        self.deleted = deleted
        self.partitionCount = partitionCount
        self.changeID = changeID
        self.deliveryID = deliveryID
        self.receivedAt = receivedAt
        self.plannedAt = plannedAt
    }
}

extension SyncRequest {
    /// A sync asked for by hand (`tributary sync`, the status API), for the worker that owns the app.
    ///
    /// - Parameters:
    ///   - revision: what to sync; nil for the app's `targetRevision`.
    ///   - prune: with prune even when the app's `automated.prune` is off.
    ///   - id: the request's id, also its `changeID` (the resulting sync event carries it).
    public static func manual(for app: AppSettings, revision: String?, prune: Bool, dryRun: Bool, partitionCount: Int, id: String, now: Date = Date()) -> SyncRequest {
        var request = SyncRequest(
            app: app.name, cluster: app.cluster, repository: RepositoryKey(url: app.source.repoURL)?.rawValue ?? "", ref: revision ?? app.source.targetRevision,
            revision: "", before: String(repeating: "0", count: 40), touchesPath: true, deleted: false, partitionCount: partitionCount,
            changeID: id, deliveryID: "manual-\(id)", receivedAt: now, plannedAt: now
        )
        request.manual = .init(prune: prune || (app.syncPolicy.automated?.prune ?? false), dryRun: dryRun)
        return request
    }
}
