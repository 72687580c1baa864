import Foundation
import TributaryCore
import TributaryGit

/// What a reconcile decides, apart from its I/O. `next(_:)` reads what is known so far and names
/// the next step: a fact to find out (the target's revision, the source's head, an ancestry, a
/// diff), or the end — nothing to do, an event without applying, or render and apply a revision.
/// `SyncEngine.reconcile` runs the steps, adds each answer to the facts and asks again, so every
/// policy (coalescing, skipping untouched apps, retry bookkeeping, healing) is here, testable
/// without git, a target or a broker.
enum ReconcileDecision {
    /// What the reconcile knows. Optional facts are nil until their step has run.
    struct Facts: Sendable {
        var trigger: SyncEngine.Trigger
        /// Restoring a drifted target: apply what was synced, whatever the ref says now.
        var healing = false
        /// `syncPolicy.automated` is set.
        var automated = true
        /// `source.path` and `source.targetRevision`.
        var path = ""
        var targetRevision = "main"
        /// From the app's state: a later revision found not to touch it; the head that last failed;
        /// whether a retry is scheduled; whether its last render may have read outside its path (nil: unknown).
        var evaluated: String?
        var failedRevision: String?
        var retryPending = false
        var readsOutsidePath: Bool?
        /// Whether `synced` was read from the target; the revision the target holds.
        var loaded = false
        var synced: String?
        /// The source revision to reconcile to, once fetched.
        var head: String?
        /// Whether a revision already reconciled contains the announced one, once checked.
        var coverage: Coverage?
        /// The diff from `synced` to `head`, once computed.
        var changes: Changes?
    }

    enum Coverage: Hashable, Sendable {
        case uncovered
        case by(String)
    }

    enum Changes: Hashable, Sendable {
        /// The old revision is gone (a force-push): what changed cannot be known.
        case unknown
        case known([GitChange])
    }

    enum Step: Hashable, Sendable {
        /// Read the revision the target holds (its inventory).
        case readTarget
        /// Resolve the source revision to reconcile to.
        case fetch(Fetch)
        /// Whether any of `candidates` is or contains `announced`.
        case checkCoverage(candidates: [String], announced: String)
        /// The tree diff between two commits.
        case diff(from: String, to: String)
        /// Whether the app's source at `revision` may read outside its path (a kustomization,
        /// Jsonnet, Helm, a plugin): asked when a change lies only outside the path and this worker
        /// has not rendered the app yet (it took the app over, say), rather than syncing to be sure.
        case probeSource(revision: String)
        /// Done without applying.
        case finish(Finish)
        /// Render the source at `revision` and apply it.
        case apply(revision: String)
        /// A manual app: render the source at `revision` and compare it with the target, applying nothing.
        case compare(revision: String)
    }

    enum Fetch: Hashable, Sendable {
        /// No fetch: healing restores this revision.
        case synced(String)
        /// The commit a planner resolved; fetch `ref` only if the mirror lacks it.
        case commit(String, ref: String)
        /// `targetRevision` is a commit ID; fetch only if the mirror lacks it.
        case pinned(String)
        /// The ref's head, fetched.
        case head(ref: String)
    }

    struct Finish: Hashable, Sendable {
        /// The event's phase; nil: no event (an interval that found nothing to do).
        var phase: SyncEvent.Phase?
        var message: String?
        /// Remember this revision as evaluated (it does not touch the app).
        var evaluated: String?
        /// An earlier failure no longer stands.
        var clearsFailure = true

        static let nothing = Finish(phase: nil)
    }

    static func next(_ facts: Facts) -> Step {
        if case .request(let request, _) = facts.trigger {
            if request.deleted {
                return .finish(Finish(phase: .skipped, message: "\(request.ref) was deleted; the target keeps its last state", clearsFailure: false))
            }
        }
        guard facts.loaded else { return .readTarget }
        if case .request(let request, _) = facts.trigger, let manual = request.manual {
            // By hand: the asked-for revision, applied (or compared) whatever the app's policy.
            guard let head = facts.head else {
                if isCommitID(request.ref) { return .fetch(.pinned(request.ref.lowercased())) }
                return .fetch(.head(ref: request.ref))
            }
            return manual.dryRun ? .compare(revision: head) : .apply(revision: head)
        }
        if !facts.automated, !facts.healing {
            // A manual app is observed, never applied: on every change and interval, compare.
            guard let head = facts.head else {
                if case .request(let request, _) = facts.trigger { return .fetch(.commit(request.revision, ref: request.ref)) }
                if isCommitID(facts.targetRevision) { return .fetch(.pinned(facts.targetRevision.lowercased())) }
                return .fetch(.head(ref: facts.targetRevision))
            }
            // A revision whose comparison failed and exhausted its retries waits for a new one.
            if case .interval = facts.trigger, head == facts.failedRevision, !facts.retryPending { return .finish(Finish(phase: nil, clearsFailure: false)) }
            return .compare(revision: head)
        }
        let reconciled = [facts.synced, facts.evaluated].compactMap { $0 }

        if case .request(let request, _) = facts.trigger {
            if let done = reconciled.first(where: { $0 == request.revision }) {
                return .finish(Finish(phase: .coalesced, message: "already reconciled at \(done.prefix(12))"))
            }
            if !request.touchesPath, facts.readsOutsidePath == false, reconciled.contains(request.before) {
                // The planner's diff of the push does not reach the app, which was up to date before it: no git needed.
                return .finish(Finish(phase: .skipped, message: Self.untouched(facts.path, request.before, request.revision), evaluated: request.revision))
            }
        }

        guard let head = facts.head else {
            if facts.healing, let synced = facts.synced { return .fetch(.synced(synced)) }
            if case .request(let request, _) = facts.trigger { return .fetch(.commit(request.revision, ref: request.ref)) }
            if isCommitID(facts.targetRevision) { return .fetch(.pinned(facts.targetRevision.lowercased())) }
            return .fetch(.head(ref: facts.targetRevision))
        }
        if facts.healing { return .apply(revision: head) }

        if case .request(let request, _) = facts.trigger, !reconciled.isEmpty {
            switch facts.coverage {
            case nil:
                return .checkCoverage(candidates: reconciled, announced: request.revision)
            case .by(let revision):
                return .finish(Finish(phase: .coalesced, message: "already reconciled at \(revision.prefix(12)), which includes \(request.revision.prefix(12))"))
            case .uncovered:
                break
            }
        }
        if case .interval = facts.trigger {
            if reconciled.contains(head) { return .finish(.nothing) }
            // A revision that failed and exhausted its retries waits for a new one.
            if head == facts.failedRevision, !facts.retryPending { return .finish(Finish(phase: nil, clearsFailure: false)) }
        }
        if let synced = facts.synced {
            let touches: Bool
            if synced == head {
                touches = false
            } else {
                guard let changes = facts.changes else { return .diff(from: synced, to: head) }
                if facts.readsOutsidePath == nil, case .known(let list) = changes, !list.isEmpty, !list.touch(directory: facts.path) {
                    return .probeSource(revision: head)
                }
                touches = Self.touches(changes, path: facts.path, readsOutsidePath: facts.readsOutsidePath)
            }
            if !touches {
                let isRequest = if case .request = facts.trigger { true } else { false }
                return .finish(Finish(phase: isRequest ? .skipped : nil, message: isRequest ? Self.untouched(facts.path, synced, head) : nil, evaluated: head))
            }
        }
        return .apply(revision: head)
    }

    enum ComparisonEvent: Hashable, Sendable {
        case outOfSync, synced
    }

    /// A manual app's comparison is reported when it appears or changes, and once when the
    /// target is back in sync (or first found so) — not on every interval.
    static func comparisonEvent(now: SyncEvent.Difference, before: SyncEvent.Difference?) -> ComparisonEvent? {
        if now == before { return nil }
        return now.isEmpty ? .synced : .outOfSync
    }

    /// Whether a diff reaches the app. Apps rendered with a kustomization, Jsonnet, Helm or a plugin
    /// may read outside their path (`resources: [../base]`, `import '../lib.libsonnet'`), so for
    /// them — and before the first render tells — any change does.
    static func touches(_ changes: Changes, path: String, readsOutsidePath: Bool?) -> Bool {
        guard case .known(let changes) = changes else { return true }
        if readsOutsidePath ?? true { return !changes.isEmpty }
        return changes.touch(directory: path)
    }

    /// The attempt a reconcile is: a retry counts on from the failures; an interval that finds a
    /// failed app still failing does too (so its backoff grows); anything else starts again.
    static func attempt(trigger: SyncEngine.Trigger, healing: Bool, failures: Int) -> Int {
        switch trigger {
        case .request: 1
        case .retry: failures + 1
        case .interval: !healing && failures > 0 ? failures + 1 : 1
        case .health: 1
        }
    }

    /// When to retry a failed attempt, as Argo CD's `syncPolicy.retry`: never after a refusal
    /// (a project rule does not heal by waiting) or past the limit.
    static func retryDelay(after failure: SyncError.Code, attempt: Int, policy: AppSettings.SyncPolicy.Retry) -> Duration? {
        guard failure != .refused, attempt <= policy.limit else { return nil }
        return Self.backoff(policy, attempt: attempt)
    }

    /// Argo CD's backoff: `duration × factor^(attempt-1)`, at most `maxDuration`.
    static func backoff(_ retry: AppSettings.SyncPolicy.Retry, attempt: Int) -> Duration {
        let seconds = retry.duration.seconds * pow(retry.factor, Double(max(attempt - 1, 0)))
        return .milliseconds(Int64(min(seconds, retry.maxDuration.seconds) * 1000))
    }

    private static func untouched(_ path: String, _ from: String, _ to: String) -> String {
        "no change under \(path.isEmpty ? "the repository root" : path) between \(from.prefix(12)) and \(to.prefix(12))"
    }
}
