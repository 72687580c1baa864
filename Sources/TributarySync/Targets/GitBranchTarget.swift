import Synchronization
import TributaryCore
import TributaryGit

/// A rendered-manifests branch: each apply is one commit on `branch` of a destination repository,
/// pushed with libgit2 (the pattern of Argo CD's source hydrator and Kargo).
///
/// No commit is made when the rendered tree is unchanged; a push rejected because someone else
/// pushed first is fetched again and retried. The inventory lives in the branch under `directory`.
public struct GitBranchTarget: FileSyncTarget {
    public let remote: GitRemote
    public let branch: String
    /// Where in the branch the files go; `.` for the root.
    public let directory: String
    /// The app this target belongs to: only its own commits say which revision it holds.
    public let app: String
    let mirrors: GitMirrorCache

    static let revisionTrailer = "Tributary-Source-Revision"

    public init(remote: GitRemote, branch: String, directory: String, app: String, mirrors: GitMirrorCache) {
        self.remote = remote
        self.branch = branch
        self.directory = directory
        self.app = app
        self.mirrors = mirrors
    }

    /// Credentials in the URL are removed: this string goes into events, notifications and logs.
    public var destination: String { "git:\(GitRemote.redactingCredentials(self.remote.url))#\(self.branch)" }

    public func inventory() async throws -> TargetInventory? {
        let snapshot = try await self.snapshot()
        guard let bytes = snapshot.files[TargetInventory.fileName], let head = snapshot.head else { return nil }
        var inventory = try TargetInventory.decode(bytes, location: "\(self.destination):\(TargetInventory.fileName)")
        // The revision is kept in the commit trailer, not in the tree (see `TargetInventory.revision`).
        // Only a head commit of this app's says what it holds; after another app's commit (apps may
        // share a branch) or someone's hand edit it is unknown, and the next sync renders again.
        let trailers = Self.trailers(try await self.mirrors.message(of: head, in: self.remote))
        inventory.revision = trailers["Tributary-App"] == self.app ? trailers[Self.revisionTrailer] : nil
        return inventory
    }

    func contents() async throws -> (files: [String: [UInt8]], inventory: TargetInventory?) {
        var files = try await self.snapshot().files
        let inventory = try files.removeValue(forKey: TargetInventory.fileName).map { try TargetInventory.decode($0, location: "\(self.destination):\(TargetInventory.fileName)") }
        return (files, inventory)
    }

    public func drift() async throws -> DriftReport {
        let snapshot = try await self.snapshot()
        guard let bytes = snapshot.files[TargetInventory.fileName] else { return DriftReport() }
        return try TargetInventory.decode(bytes, location: "\(self.destination):\(TargetInventory.fileName)").drift(in: snapshot.files)
    }

    public func apply(_ resources: [RenderedResource], context: ApplyContext) async throws -> SyncEvent.ResourceCounts {
        let counts = Mutex(SyncEvent.ResourceCounts())
        let location = "\(self.destination):\(TargetInventory.fileName)"
        do {
            _ = try await self.mirrors.publish(to: self.remote, branch: self.branch, directory: self.directory) { snapshot in
                var current = snapshot.files
                let previous = try current.removeValue(forKey: TargetInventory.fileName).map { try TargetInventory.decode($0, location: location) }
                let plan = try TargetPlan(resources: resources, current: current, previous: previous, context: context, keepRevision: false)
                counts.withLock { $0 = plan.counts }
                if plan.isNoOp && previous == plan.inventory { return nil }
                var writing = plan.writing
                writing[TargetInventory.fileName] = try plan.inventory.encoded()
                return GitBranchUpdate(writing: writing, removing: plan.removing, message: Self.message(context))
            }
        } catch let error as GitError {
            throw SyncError(code: .target, message: "cannot publish to \(self.destination): \(error.message)")
        }
        return counts.withLock { $0 }
    }

    private func snapshot() async throws -> GitBranchSnapshot {
        do {
            return try await self.mirrors.snapshot(of: self.branch, directory: self.directory, in: self.remote)
        } catch let error as GitError {
            throw SyncError(code: .target, message: "cannot read \(self.destination): \(error.message)")
        }
    }

    static func trailers(_ message: String) -> [String: String] {
        var trailers: [String: String] = [:]
        for line in message.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":"), line.hasPrefix("Tributary-") else { continue }
            trailers[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return trailers
    }

    /// Names the app and source revision; trailers carry the source SHA and the push's delivery id.
    static func message(_ context: ApplyContext) -> String {
        var lines = [
            "Render \(context.app) at \(context.revision.prefix(12))",
            "",
            "Source: \(GitRemote.redactingCredentials(context.repoURL)) \(context.ref)",
            "",
            "Tributary-App: \(context.app)",
            "\(Self.revisionTrailer): \(context.revision)",
        ]
        if let delivery = context.deliveryID { lines.append("Tributary-Delivery: \(delivery)") }
        return lines.joined(separator: "\n") + "\n"
    }
}
