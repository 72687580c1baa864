import Foundation
import TributaryCore
import TributaryGit
import TributarySource

/// Turns one push into one sync request per app that follows the pushed ref: fetches the
/// repository once, resolves the ref's head (the commit every worker will render) and diffs it
/// against the push's `before` once for all the apps of a monorepo — or, when the signed payload
/// lists every changed path, plans the pushed commit from that list without fetching. Kafka-free, so it is tested
/// directly; `Planner` runs it as a stage.
public struct ChangePlanner: Sendable {
    let configuration: TributaryConfiguration
    let mirrors: GitMirrorCache

    public init(configuration: TributaryConfiguration, mirrors: GitMirrorCache) {
        self.configuration = configuration
        self.mirrors = mirrors
    }

    /// The apps that follow the ref a change pushed to, in configuration order, whatever their cluster.
    public func apps(for change: ChangeEvent) -> [AppSettings] {
        self.configuration.apps(following: change)
    }

    /// The requests for `change`, one per app that follows its ref (none when no app does).
    ///
    /// - Parameters:
    ///   - apps: `apps(for: change)`, when the caller has it already.
    ///   - partitionCount: the partition count of an app's requests topic, recorded in the request.
    /// - Throws: `GitError` when the repository cannot be fetched or lacks the pushed commit.
    public func plan(_ change: ChangeEvent, apps: [AppSettings]? = nil, changeID: String, partitionCount: (AppSettings) throws -> Int) async throws -> [SyncRequest] {
        var apps = apps ?? self.apps(for: change)
        guard let first = apps.first else { return [] }
        var head = ""
        var changed: [GitChange]?
        if !change.deleted, let listed = Self.listedChanges(change), !apps.contains(where: { $0.source.targetRevision == "HEAD" }) {
            // The signed payload lists every path the push changed: plan from it without a fetch, as
            // Argo CD's webhook handler does. The planner's fetch took most of push→applied (the
            // workers' prefetch of the same commit ran beside it), and each worker still fetches the
            // pushed commit, renders it and diffs against what it synced.
            head = change.after
            changed = listed
        } else if !change.deleted {
            let remote = try GitRemote(url: first.source.repoURL, repository: self.configuration.repository(for: first.source.repoURL))
            head = try await self.mirrors.fetchHead(of: change.ref, in: remote, mustContain: change.after)
            if apps.contains(where: { $0.source.targetRevision == "HEAD" }) {
                // Apps on the default branch follow this push only if it went to the default branch.
                let defaultHead = try? await self.mirrors.resolve("HEAD", in: remote)
                if defaultHead != head { apps.removeAll { $0.source.targetRevision == "HEAD" } }
            }
            changed = try await self.changes(from: change.before, to: head, in: remote)
        }
        let now = Date()
        return try apps.map { app in
            SyncRequest(
                app: app.name,
                cluster: app.cluster,
                repository: change.repository.key,
                ref: change.ref,
                revision: head,
                before: change.before,
                touchesPath: changed.map { $0.touch(directory: app.source.path) } ?? true,
                deleted: change.deleted,
                partitionCount: try partitionCount(app),
                changeID: changeID,
                deliveryID: change.deliveryID,
                receivedAt: change.receivedAt,
                plannedAt: now
            )
        }
    }

    /// The push's changes as its payload lists them, when that list can stand in for a diff: the
    /// host says it is complete (not truncated, not a new branch or a force-push — see
    /// `ChangeEvent.ChangedPaths.complete`), `before` and `after` are commit ids, and it names at
    /// least one path (an empty list is what hand-made payloads send; a fetch decides those).
    static func listedChanges(_ change: ChangeEvent) -> [GitChange]? {
        guard let hints = change.changedPathHints, hints.complete, !change.created, !change.forced, !change.deleted,
              isCommitID(change.after), isCommitID(change.before), change.before.contains(where: { $0 != "0" })
        else { return nil }
        let listed =
            hints.added.map { GitChange(kind: .added, oldPath: $0, path: $0) }
            + hints.modified.map { GitChange(kind: .modified, oldPath: $0, path: $0) }
            + hints.removed.map { GitChange(kind: .deleted, oldPath: $0, path: $0) }
        return listed.isEmpty ? nil : listed
    }

    /// The diff of the push, or nil when it cannot be had: a created ref, or a `before` that is
    /// gone or not an ancestor of the head (a force-push).
    private func changes(from before: String, to head: String, in remote: GitRemote) async throws -> [GitChange]? {
        guard before != head else { return [] }
        guard before.contains(where: { $0 != "0" }),
              (try? await self.mirrors.contains(commit: before, in: remote)) == true,
              (try? await self.mirrors.isAncestor(before, of: head, in: remote)) == true
        else { return nil }
        return try? await self.mirrors.changes(from: before, to: head, in: remote)
    }
}
