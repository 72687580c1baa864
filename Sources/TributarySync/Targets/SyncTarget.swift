import Foundation
import TributaryCore
import TributarySource
import TributaryRender

/// Where an app's rendered manifests go: a directory, a git branch or a Kubernetes cluster. A
/// target owns only what it wrote, recorded in an inventory kept with the target.
public protocol SyncTarget: Sendable {
    /// As projects' `destinations` globs see it: `directory:/path`, `git:url#branch`,
    /// `kubernetes:cluster/namespace`.
    var destination: String { get }

    /// The source revision of the last successful apply, from the target's inventory; nil before the first.
    func appliedRevision() async throws -> String?

    /// Makes the target hold `manifests` (plus, without prune, earlier resources no longer
    /// rendered), recording them in the inventory.
    ///
    /// - Throws: `SyncError`; on an error caught before anything is written the target keeps its
    ///   previous state.
    func apply(_ manifests: [Manifest], context: ApplyContext) async throws -> ApplyOutcome

    /// Whether `drift(from:)` needs the manifests of the applied revision (rendered again), or
    /// compares with its inventory alone.
    var comparesWithManifests: Bool { get }

    /// Owned resources that no longer match what was applied (edited or deleted by someone else).
    func drift(from manifests: [Manifest]) async throws -> DriftReport

    /// The health of what the target holds; nil for targets without one (files).
    func health() async throws -> SyncEvent.Health?

    /// What applying `manifests` would change, without changing anything (manual apps).
    func compare(_ manifests: [Manifest], prune: Bool) async throws -> SyncEvent.Difference

    /// The destination cluster's version and API versions, for Helm and plugins; nil for targets
    /// that are not clusters.
    func clusterFacts() async throws -> ClusterFacts?
}

extension SyncTarget {
    public func clusterFacts() async throws -> ClusterFacts? { nil }
}

/// What an apply did.
public struct ApplyOutcome: Sendable {
    public var counts: SyncEvent.ResourceCounts
    /// The app's health once applied, for targets that have one.
    public var health: SyncEvent.Health?

    public init(counts: SyncEvent.ResourceCounts, health: SyncEvent.Health? = nil) {
        self.counts = counts
        self.health = health
    }
}

/// A target of files (a directory, a branch): one file per resource, a digest inventory.
protocol FileSyncTarget: SyncTarget {
    func inventory() async throws -> TargetInventory?
    /// The files the target holds (its inventory left out) and its inventory.
    func contents() async throws -> (files: [String: [UInt8]], inventory: TargetInventory?)
    func apply(_ resources: [RenderedResource], context: ApplyContext) async throws -> SyncEvent.ResourceCounts
    func drift() async throws -> DriftReport
}

extension FileSyncTarget {
    public func appliedRevision() async throws -> String? {
        try await self.inventory()?.revision
    }

    public func apply(_ manifests: [Manifest], context: ApplyContext) async throws -> ApplyOutcome {
        ApplyOutcome(counts: try await self.apply(ResourceLayout.resources(for: manifests), context: context))
    }

    public var comparesWithManifests: Bool { false }

    public func drift(from manifests: [Manifest]) async throws -> DriftReport {
        try await self.drift()
    }

    public func health() async throws -> SyncEvent.Health? { nil }

    public func compare(_ manifests: [Manifest], prune: Bool) async throws -> SyncEvent.Difference {
        let (files, inventory) = try await self.contents()
        let context = ApplyContext(app: inventory?.app ?? "", repoURL: "", ref: "", revision: "", deliveryID: nil, prune: prune)
        let plan = try TargetPlan(resources: ResourceLayout.resources(for: manifests), current: files, previous: inventory, context: context, keepRevision: true)
        return SyncEvent.Difference(
            create: plan.writing.keys.filter { files[$0] == nil }.sorted(),
            update: plan.writing.keys.filter { files[$0] != nil }.sorted(),
            delete: plan.removing.sorted()
        )
    }
}

/// One resource as the target stores it.
public struct RenderedResource: Hashable, Sendable {
    /// File name within the target (see `ResourceLayout`).
    public var path: String
    public var contents: [UInt8]

    public init(path: String, contents: [UInt8]) {
        self.path = path
        self.contents = contents
    }
}

/// What an apply is for: it ends up in the inventory and, for git targets, the commit message.
public struct ApplyContext: Sendable {
    public var app: String
    public var repoURL: String
    public var ref: String
    /// The source commit rendered.
    public var revision: String
    public var deliveryID: String?
    /// Delete owned resources that are no longer rendered.
    public var prune: Bool

    public init(app: String, repoURL: String, ref: String, revision: String, deliveryID: String?, prune: Bool) {
        self.app = app
        self.repoURL = repoURL
        self.ref = ref
        self.revision = revision
        self.deliveryID = deliveryID
        self.prune = prune
    }
}

/// Owned resources that differ from what the last apply wrote.
public struct DriftReport: Hashable, Sendable {
    public var modified: [String] = []
    public var missing: [String] = []

    public var isEmpty: Bool { self.modified.isEmpty && self.missing.isEmpty }

    /// `modified: a.yaml; missing: b.yaml`, for sync event messages.
    public var summary: String {
        var parts: [String] = []
        if !self.modified.isEmpty { parts.append("modified: \(self.modified.joined(separator: ", "))") }
        if !self.missing.isEmpty { parts.append("missing: \(self.missing.joined(separator: ", "))") }
        return parts.joined(separator: "; ")
    }
}
