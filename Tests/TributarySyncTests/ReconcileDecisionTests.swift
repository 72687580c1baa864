import Foundation
import Testing
@testable import TributaryCore
import TributaryGit
@testable import TributarySync

/// `ReconcileDecision.next`, step by step, without git, a target or a broker.
@Suite struct ReconcileDecisionTests {
    typealias Decision = ReconcileDecision
    let old = String(repeating: "a", count: 40)
    let new = String(repeating: "b", count: 40)
    let later = String(repeating: "c", count: 40)

    func request(_ revision: String, before: String, touchesPath: Bool = true, deleted: Bool = false) -> SyncEngine.Trigger {
        .request(
            SyncRequest(
                app: "guestbook", cluster: nil, repository: "example.com/org/repo", ref: "refs/heads/main", revision: revision, before: before,
                touchesPath: touchesPath, deleted: deleted, partitionCount: 6, changeID: "change-1", deliveryID: "delivery-1", receivedAt: Date()
            ),
            id: "change-1"
        )
    }

    /// Facts of an app whose target was read and holds `synced`.
    func loaded(_ trigger: SyncEngine.Trigger, synced: String?) -> Decision.Facts {
        var facts = Decision.Facts(trigger: trigger, path: "apps/guestbook")
        facts.loaded = true
        facts.synced = synced
        return facts
    }

    @Test func aRequestReadsTheTargetFirst() {
        let facts = Decision.Facts(trigger: self.request(self.new, before: self.old))
        #expect(Decision.next(facts) == .readTarget)
    }

    @Test func aDeletedRefIsSkippedWithoutReadingAnything() {
        let deleted = Decision.Facts(trigger: self.request(self.new, before: self.old, deleted: true))
        guard case .finish(let finish) = Decision.next(deleted) else { Issue.record("expected finish"); return }
        #expect(finish.phase == .skipped)
        #expect(finish.message == "refs/heads/main was deleted; the target keeps its last state")
        #expect(!finish.clearsFailure)

    }

    @Test func aManualAppIsComparedOnEveryRequestAndIntervalNeverApplied() {
        var manual = self.loaded(self.request(self.new, before: self.old), synced: self.new)
        manual.automated = false
        #expect(Decision.next(manual) == .fetch(.commit(self.new, ref: "refs/heads/main")))  // even when coalescing would apply
        manual.head = self.new
        #expect(Decision.next(manual) == .compare(revision: self.new))
        var interval = self.loaded(.interval, synced: self.old)
        interval.automated = false
        #expect(Decision.next(interval) == .fetch(.head(ref: "main")))
        interval.head = self.new
        #expect(Decision.next(interval) == .compare(revision: self.new))
    }

    @Test func aRequestForWhatTheTargetHoldsIsCoalesced() {
        let facts = self.loaded(self.request(self.new, before: self.old), synced: self.new)
        #expect(Decision.next(facts) == .finish(.init(phase: .coalesced, message: "already reconciled at bbbbbbbbbbbb")))
    }

    @Test func aRequestTheDiffDoesNotReachIsSkippedWithoutGit() {
        var facts = self.loaded(self.request(self.new, before: self.old, touchesPath: false), synced: self.old)
        facts.readsOutsidePath = false
        #expect(Decision.next(facts) == .finish(.init(phase: .skipped, message: "no change under apps/guestbook between aaaaaaaaaaaa and bbbbbbbbbbbb", evaluated: self.new)))
        // Before the first render, a kustomization may read outside the path: fetch and diff instead.
        facts.readsOutsidePath = nil
        #expect(Decision.next(facts) == .fetch(.commit(self.new, ref: "refs/heads/main")))
        // A target that was not up to date before the push: its own diff decides.
        facts.readsOutsidePath = false
        facts.synced = self.later
        #expect(Decision.next(facts) == .fetch(.commit(self.new, ref: "refs/heads/main")))
    }

    @Test func aRequestFetchesItsCommitThenAsksWhetherItIsCovered() {
        var facts = self.loaded(self.request(self.new, before: self.old), synced: self.old)
        #expect(Decision.next(facts) == .fetch(.commit(self.new, ref: "refs/heads/main")))
        facts.head = self.new
        #expect(Decision.next(facts) == .checkCoverage(candidates: [self.old], announced: self.new))
        facts.coverage = .by(self.old)
        #expect(Decision.next(facts) == .finish(.init(phase: .coalesced, message: "already reconciled at aaaaaaaaaaaa, which includes bbbbbbbbbbbb")))
    }

    @Test func aCoveredCheckIsNotAskedOfANewApp() {
        var facts = self.loaded(self.request(self.new, before: self.old), synced: nil)
        facts.head = self.new
        #expect(Decision.next(facts) == .apply(revision: self.new))
    }

    @Test func anAppNotRenderedHereIsProbedBeforeAChangeOutsideItsPathSyncsIt() {
        var facts = self.loaded(self.request(self.new, before: self.old), synced: self.old)
        facts.head = self.new
        facts.coverage = .uncovered
        facts.changes = .known([GitChange(kind: .modified, oldPath: "apps/other/a.yaml", path: "apps/other/a.yaml")])
        // A worker that took the app over does not know yet whether it reads outside its path: it asks.
        #expect(Decision.next(facts) == .probeSource(revision: self.new))
        facts.readsOutsidePath = false
        #expect(Decision.next(facts) == .finish(.init(phase: .skipped, message: "no change under apps/guestbook between aaaaaaaaaaaa and bbbbbbbbbbbb", evaluated: self.new)))
        facts.readsOutsidePath = true
        #expect(Decision.next(facts) == .apply(revision: self.new))
        // A change under the path needs no probe.
        facts.readsOutsidePath = nil
        facts.changes = .known([GitChange(kind: .modified, oldPath: "apps/guestbook/a.yaml", path: "apps/guestbook/a.yaml")])
        #expect(Decision.next(facts) == .apply(revision: self.new))
    }

    @Test func aDiffThatMissesThePathSkipsAndRemembersTheRevision() {
        var facts = self.loaded(self.request(self.new, before: self.old), synced: self.old)
        facts.readsOutsidePath = false
        facts.head = self.new
        facts.coverage = .uncovered
        #expect(Decision.next(facts) == .diff(from: self.old, to: self.new))
        facts.changes = .known([GitChange(kind: .modified, oldPath: "apps/other/a.yaml", path: "apps/other/a.yaml")])
        #expect(Decision.next(facts) == .finish(.init(phase: .skipped, message: "no change under apps/guestbook between aaaaaaaaaaaa and bbbbbbbbbbbb", evaluated: self.new)))
        facts.changes = .known([GitChange(kind: .modified, oldPath: "apps/guestbook/a.yaml", path: "apps/guestbook/a.yaml")])
        #expect(Decision.next(facts) == .apply(revision: self.new))
    }

    @Test func anUnknownDiffOrAKustomizationAppliesOnAnyChange() {
        #expect(Decision.touches(.unknown, path: "apps/guestbook", readsOutsidePath: false))
        let elsewhere = Decision.Changes.known([GitChange(kind: .added, oldPath: "base/a.yaml", path: "base/a.yaml")])
        #expect(Decision.touches(elsewhere, path: "apps/guestbook", readsOutsidePath: true))
        #expect(Decision.touches(elsewhere, path: "apps/guestbook", readsOutsidePath: nil))
        #expect(!Decision.touches(elsewhere, path: "apps/guestbook", readsOutsidePath: false))
        #expect(!Decision.touches(.known([]), path: "apps/guestbook", readsOutsidePath: true))
    }

    @Test func theIntervalFetchesTheRefAndDoesNothingWhenItHasNotMoved() {
        var facts = self.loaded(.interval, synced: self.old)
        #expect(Decision.next(facts) == .fetch(.head(ref: "main")))
        facts.head = self.old
        #expect(Decision.next(facts) == .finish(.nothing))
        facts.evaluated = self.new
        facts.head = self.new
        #expect(Decision.next(facts) == .finish(.nothing))
    }

    @Test func theIntervalLeavesAnExhaustedFailureAlone() {
        var facts = self.loaded(.interval, synced: self.old)
        facts.head = self.new
        facts.failedRevision = self.new
        #expect(Decision.next(facts) == .finish(.init(phase: nil, clearsFailure: false)))
        facts.retryPending = true
        #expect(Decision.next(facts) == .diff(from: self.old, to: self.new))

    }

    @Test func theIntervalSkipsSilentlyWhenTheDiffMissesThePath() {
        var facts = self.loaded(.interval, synced: self.old)
        facts.readsOutsidePath = false
        facts.head = self.new
        facts.changes = .known([])
        #expect(Decision.next(facts) == .finish(.init(phase: nil, evaluated: self.new)))
    }

    @Test func aPinnedCommitIsFetchedOnlyByID() {
        var facts = self.loaded(.interval, synced: nil)
        facts.targetRevision = self.new.uppercased()
        #expect(Decision.next(facts) == .fetch(.pinned(self.new)))
    }

    @Test func healingRestoresTheSyncedRevisionWithoutAsking() {
        var facts = self.loaded(.interval, synced: self.old)
        facts.healing = true
        #expect(Decision.next(facts) == .fetch(.synced(self.old)))
        facts.head = self.old
        #expect(Decision.next(facts) == .apply(revision: self.old))
    }

    @Test func attemptsCountOnFromFailures() {
        #expect(Decision.attempt(trigger: self.request(self.new, before: self.old), healing: false, failures: 3) == 1)
        #expect(Decision.attempt(trigger: .retry, healing: false, failures: 3) == 4)
        #expect(Decision.attempt(trigger: .interval, healing: false, failures: 3) == 4)
        #expect(Decision.attempt(trigger: .interval, healing: true, failures: 3) == 1)
        #expect(Decision.attempt(trigger: .interval, healing: false, failures: 0) == 1)
    }

    @Test func retriesBackOffUpToTheLimitAndNeverAfterARefusal() {
        var policy = AppSettings.SyncPolicy.Retry()
        policy.limit = 3
        policy.duration = .seconds(5)
        policy.factor = 2
        policy.maxDuration = .seconds(12)
        #expect(Decision.retryDelay(after: .render, attempt: 1, policy: policy) == .seconds(5))
        #expect(Decision.retryDelay(after: .source, attempt: 2, policy: policy) == .seconds(10))
        #expect(Decision.retryDelay(after: .target, attempt: 3, policy: policy) == .seconds(12))
        #expect(Decision.retryDelay(after: .target, attempt: 4, policy: policy) == nil)
        #expect(Decision.retryDelay(after: .refused, attempt: 1, policy: policy) == nil)
    }

    @Test func aComparisonIsReportedWhenItAppearsOrChangesAndOnceBackInSync() {
        let drifted = SyncEvent.Difference(update: ["a.yaml"])
        #expect(Decision.comparisonEvent(now: drifted, before: nil) == .outOfSync)
        #expect(Decision.comparisonEvent(now: drifted, before: drifted) == nil)
        #expect(Decision.comparisonEvent(now: .init(update: ["a.yaml", "b.yaml"]), before: drifted) == .outOfSync)
        #expect(Decision.comparisonEvent(now: .init(), before: drifted) == .synced)
        #expect(Decision.comparisonEvent(now: .init(), before: nil) == .synced)
        #expect(Decision.comparisonEvent(now: .init(), before: .init()) == nil)
    }

    @Test func aSyncByHandAppliesTheAskedRevisionWhateverThePolicyOrCompares() {
        func manual(_ ref: String, dryRun: Bool) -> SyncEngine.Trigger {
            var request = SyncRequest(
                app: "guestbook", cluster: nil, repository: "example.com/org/repo", ref: ref, revision: "", before: String(repeating: "0", count: 40),
                touchesPath: true, deleted: false, partitionCount: 6, changeID: "cli-1", deliveryID: "manual-cli-1", receivedAt: Date()
            )
            request.manual = .init(prune: true, dryRun: dryRun)
            return .request(request, id: "cli-1")
        }
        var facts = self.loaded(manual("main", dryRun: false), synced: self.new)
        facts.automated = false
        #expect(Decision.next(facts) == .fetch(.head(ref: "main")))
        facts.head = self.new
        #expect(Decision.next(facts) == .apply(revision: self.new))  // even when the target already holds it
        var pinned = self.loaded(manual(self.old, dryRun: true), synced: self.new)
        #expect(Decision.next(pinned) == .fetch(.pinned(self.old)))
        pinned.head = self.old
        #expect(Decision.next(pinned) == .compare(revision: self.old))
    }
}
