import Foundation
import TributaryCore

/// Where an app's rendered manifests go. A target owns only what it wrote, recorded in an
/// inventory kept with the target, and applies a revision atomically.
///
/// Kubernetes server-side apply will be a third conformer; the interface is phrased in terms of
/// resources and an inventory for that reason, not files.
public protocol SyncTarget: Sendable {
    /// As projects' `destinations` globs see it: `directory:/path`, `git:url#branch`.
    var destination: String { get }

    /// The inventory of the last successful apply, nil before the first.
    func inventory() async throws -> TargetInventory?

    /// Makes the target hold exactly `resources` (plus, without prune, earlier resources no longer
    /// rendered), recording them in the inventory.
    ///
    /// - Throws: `SyncError`; on any error the target keeps its previous state.
    func apply(_ resources: [RenderedResource], context: ApplyContext) async throws -> SyncEvent.ResourceCounts

    /// Owned resources that no longer match the inventory (edited or deleted by someone else).
    func drift() async throws -> DriftReport
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
