import Foundation
import TributaryCore
import TributaryGit
import TributaryKubernetes
import TributaryRender
import TributarySource

extension SyncEngine {
    /// Called with the app's lock held. Runs the steps `ReconcileDecision` names until it is done.
    func reconcile(_ app: AppSettings, trigger: Trigger, healing drift: DriftReport? = nil) async -> SyncEvent? {
        let startedAt = Date()
        let clock = ContinuousClock()
        let target = self.targets[app.name]!
        var timings = SyncEvent.Timings()
        let previous = self.state(of: app.name)
        let attempt = ReconcileDecision.attempt(trigger: trigger, healing: drift != nil, failures: previous?.failures ?? 0)
        var cause: AppState.Cause?
        switch trigger {
        case .request(let request, _): cause = .init(changeID: request.changeID, deliveryID: request.deliveryID, receivedAt: request.receivedAt)
        case .retry: cause = previous?.retryCause
        case .interval, .health: break
        }
        var event = SyncEvent(
            app: app.name,
            project: app.project,
            repository: RepositoryKey(url: app.source.repoURL)?.rawValue ?? GitRemote.redactingCredentials(app.source.repoURL),
            ref: app.source.targetRevision,
            revision: "",
            phase: .failed,
            attempt: attempt,
            trigger: Self.triggerName(trigger, healing: drift != nil),
            destination: target.destination,
            changeID: cause?.changeID,
            deliveryID: cause?.deliveryID,
            receivedAt: cause?.receivedAt,
            startedAt: startedAt,
            finishedAt: startedAt
        )
        event.cluster = app.cluster
        var manualSync: SyncRequest.Manual?
        if case .request(let request, _) = trigger {
            event.revision = request.revision
            manualSync = request.manual
        }
        func finish(_ phase: SyncEvent.Phase, message: String? = nil) -> SyncEvent {
            event.phase = phase
            event.message = message
            event.finishedAt = Date()
            event.timings = timings
            self.metrics.recordSync(event)
            return event
        }

        var facts = ReconcileDecision.Facts(
            trigger: trigger,
            healing: drift != nil,
            automated: app.syncPolicy.automated != nil,
            path: app.source.path,
            targetRevision: app.source.targetRevision,
            evaluated: previous?.evaluated,
            failedRevision: previous?.failedRevision,
            retryPending: previous?.retryAt != nil,
            readsOutsidePath: previous?.readsOutsidePath,
            loaded: previous?.loaded == true,
            synced: previous?.loaded == true ? previous?.synced : nil
        )
        event.previousRevision = facts.synced
        do {
            try self.checkProject(app, target: target)
            let remote: GitRemote
            do {
                remote = try GitRemote(url: app.source.repoURL, repository: self.configuration.repository(for: app.source.repoURL))
            } catch let error as GitError {
                throw SyncError(code: .source, message: error.message)
            }
            while true {
                switch ReconcileDecision.next(facts) {
                case .readTarget:
                    let synced = try await target.appliedRevision()
                    self.updateState(of: app.name) {
                        $0.synced = synced
                        $0.loaded = true
                    }
                    facts.loaded = true
                    facts.synced = synced
                    event.previousRevision = synced
                case .fetch(let fetch):
                    let fetchStarted = clock.now
                    let head = try await self.resolve(fetch, in: remote)
                    timings.fetchMilliseconds = Self.milliseconds(clock.now - fetchStarted)
                    facts.head = head
                    event.revision = head
                case .checkCoverage(let candidates, let announced):
                    facts.coverage = .uncovered
                    for candidate in candidates where try await self.contains(candidate, announced, remote) {
                        facts.coverage = .by(candidate)
                        break
                    }
                case .diff(let old, let new):
                    do {
                        facts.changes = .known(try await self.changes(from: old, to: new, in: remote))
                    } catch {
                        facts.changes = .unknown  // the old revision is gone (force-push): render to be sure
                    }
                case .probeSource(let revision):
                    do {
                        let paths = try await self.mirrors.files(at: revision, under: app.source.path, recursive: true, in: remote).map(\.path)
                        facts.readsOutsidePath = AppRenderer.readsOutsidePath(app.source, paths: paths)
                    } catch {
                        facts.readsOutsidePath = true  // cannot tell: sync to be sure
                    }
                    self.updateState(of: app.name) { $0.readsOutsidePath = facts.readsOutsidePath }
                case .finish(let outcome):
                    if outcome.evaluated != nil || outcome.clearsFailure {
                        self.updateState(of: app.name) { state in
                            if let evaluated = outcome.evaluated { state.evaluated = evaluated }
                            if outcome.clearsFailure { state.clearFailure() }
                        }
                    }
                    return outcome.phase.map { finish($0, message: outcome.message) }
                case .compare(let head):
                    let renderStarted = clock.now
                    let manifests = try await self.render(app, at: head, remote: remote, for: target)
                    timings.renderMilliseconds = Self.milliseconds(clock.now - renderStarted)
                    let difference = try await target.compare(manifests, prune: true)
                    let before = self.state(of: app.name)?.difference
                    // Only the comparison is remembered: a dry run of an automated app must not pass
                    // for a sync (as `evaluated` would), nor cancel its pending retry.
                    self.updateState(of: app.name) {
                        $0.difference = difference
                        if app.syncPolicy.automated == nil { $0.clearFailure() }
                    }
                    // Asked for by hand, the answer is always given.
                    let asked = if case .request(let request, _) = trigger, request.manual != nil { true } else { false }
                    switch asked ? (difference.isEmpty ? .synced : .outOfSync) : ReconcileDecision.comparisonEvent(now: difference, before: before) {
                    case nil:
                        return nil
                    case .synced:
                        return finish(.synced, message: "the target matches \(head.prefix(12))")
                    case .outOfSync:
                        event.difference = difference
                        let why = manualSync != nil ? "dry run" : self.controls.isSuspended(app.name) ? "automated sync is suspended" : "automated sync is off"
                        return finish(.outOfSync, message: "a sync would \(difference.summary); \(why), so nothing was applied")
                    }
                case .apply(let head):
                    let renderStarted = clock.now
                    let manifests = try await self.render(app, at: head, remote: remote, for: target)
                    timings.renderMilliseconds = Self.milliseconds(clock.now - renderStarted)
                    // Asked for by hand (`tributary sync --prune`), emptying the app is the user's call, as in Argo CD.
                    if manifests.isEmpty, manualSync == nil, let automated = app.syncPolicy.automated, automated.prune, !automated.allowEmpty {
                        throw SyncError(
                            code: .refused,
                            message: "\(app.source.path.isEmpty ? "the repository root" : app.source.path) renders no resources at \(head.prefix(12)); with prune that would delete everything the app owns, and allowEmpty is false, so the target is left as it is"
                        )
                    }
                    let applyStarted = clock.now
                    let context = ApplyContext(
                        app: app.name,
                        repoURL: app.source.repoURL,
                        ref: app.source.targetRevision,
                        revision: head,
                        deliveryID: cause?.deliveryID,
                        prune: manualSync?.prune ?? app.syncPolicy.automated?.prune ?? false
                    )
                    let outcome = try await target.apply(manifests, context: context)
                    event.resources = outcome.counts
                    event.health = outcome.health
                    timings.applyMilliseconds = Self.milliseconds(clock.now - applyStarted)
                    self.updateState(of: app.name) {
                        $0.synced = head
                        $0.evaluated = head
                        $0.clearFailure()
                        $0.reportedDrift = nil
                        if let health = outcome.health { $0.record(health: health, recheckAfter: self.healthInterval) }
                    }
                    return finish(drift != nil ? .healed : .succeeded, message: drift.map { "restored \($0.summary)" })
                }
            }
        } catch {
            let failure = Self.syncError(error)
            event.error = failure.sourceError
            let retryAt = ReconcileDecision.retryDelay(after: failure.code, attempt: attempt, policy: app.syncPolicy.retry).map { ContinuousClock.now + $0 }
            self.updateState(of: app.name) {
                $0.failures = attempt
                $0.failedRevision = facts.head
                $0.retryAt = retryAt
                $0.retryCause = cause
            }
            self.log.warning(
                "Sync failed",
                metadata: ["app": "\(app.name)", "attempt": "\(attempt)", "error": "\(failure.message)", "retry": "\(retryAt == nil ? "no" : "yes")"]
            )
            return finish(.failed, message: failure.message)
        }
    }

    /// The source revision a fetch step names.
    private func resolve(_ fetch: ReconcileDecision.Fetch, in remote: GitRemote) async throws -> String {
        do {
            switch fetch {
            case .synced(let revision):
                return revision
            case .commit(let commit, let ref):
                // Every worker renders the commit the planner resolved, whatever the ref says now.
                if !(try await self.mirrors.contains(commit: commit, in: remote)) {
                    _ = try await self.mirrors.fetchHead(of: ref, in: remote, mustContain: commit)
                }
                return commit
            case .pinned(let commit):
                if !(try await self.mirrors.contains(commit: commit, in: remote)) { try await self.mirrors.fetch(remote) }
                return commit
            case .head(let ref):
                return try await self.mirrors.fetchHead(of: ref, in: remote, mustContain: nil)
            }
        } catch let error as GitError {
            throw SyncError(code: .source, message: error.message)
        }
    }

    /// Called with the app's lock held.
    func driftCheck(_ app: AppSettings) async -> SyncEvent? {
        // A manual app's difference is what its compare reports (out-of-sync), not drift.
        guard app.syncPolicy.automated != nil, let target = self.targets[app.name], let state = self.state(of: app.name), let synced = state.synced, state.failures == 0 else { return nil }
        let report: DriftReport
        do {
            var manifests: [Manifest] = []
            if target.comparesWithManifests {
                let remote = try GitRemote(url: app.source.repoURL, repository: self.configuration.repository(for: app.source.repoURL))
                manifests = try await self.render(app, at: synced, remote: remote, for: target)
            }
            report = try await target.drift(from: manifests)
        } catch {
            self.log.warning("Drift check failed", metadata: ["app": "\(app.name)", "error": "\(Self.syncError(error).message)"])
            return await self.healthCheck(app, target: target, state: state)
        }
        if report.isEmpty {
            self.updateState(of: app.name) { $0.reportedDrift = nil }
            return await self.healthCheck(app, target: target, state: state)
        }
        if app.syncPolicy.automated?.selfHeal == true {
            return await self.reconcile(app, trigger: .interval, healing: report)
        }
        guard state.reportedDrift != report else { return nil }
        self.updateState(of: app.name) { $0.reportedDrift = report }
        let event = self.intervalEvent(
            app, target: target, state: state, phase: .driftDetected,
            message: "target differs from \(state.synced?.prefix(12) ?? "the last sync"): \(report.summary); selfHeal is off"
        )
        self.metrics.recordSync(event)
        return event
    }

    /// Reports a change of the app's health since the last event (Kubernetes targets).
    func healthCheck(_ app: AppSettings, target: any SyncTarget, state: AppState) async -> SyncEvent? {
        let health: SyncEvent.Health?
        do {
            health = try await target.health()
        } catch {
            self.log.warning("Health check failed", metadata: ["app": "\(app.name)", "error": "\(Self.syncError(error).message)"])
            return nil
        }
        guard let health else { return nil }
        self.updateState(of: app.name) { $0.record(health: health, recheckAfter: self.healthInterval) }
        // A change of status, not of its message ("1 of 3 updated" → "2 of 3"); and none after a
        // restart or a takeover, when this worker has not seen the app's health before.
        guard let previous = state.health, health.status != previous.status else { return nil }
        var event = self.intervalEvent(app, target: target, state: state, phase: .healthChanged, message: "\(previous.status) → \(health.status)\(health.message.map { ": \($0)" } ?? "")")
        event.health = health
        self.metrics.recordSync(event)
        return event
    }

    /// An event the interval finds without syncing (drift, a change of health), at the synced revision.
    private func intervalEvent(_ app: AppSettings, target: any SyncTarget, state: AppState, phase: SyncEvent.Phase, message: String) -> SyncEvent {
        let now = Date()
        var event = SyncEvent(
            app: app.name, project: app.project,
            repository: RepositoryKey(url: app.source.repoURL)?.rawValue ?? GitRemote.redactingCredentials(app.source.repoURL),
            ref: app.source.targetRevision, revision: state.synced ?? "", phase: phase, trigger: "interval",
            destination: target.destination, message: message, startedAt: now, finishedAt: now
        )
        event.previousRevision = state.synced
        event.cluster = app.cluster
        return event
    }

    /// Marks due work as started: the interval timer moves forward, a retry is consumed (a failure
    /// schedules the next).
    public func scheduleNextInterval(for app: AppSettings, trigger: Trigger) {
        self.updateState(of: app.name) { state in
            switch trigger {
            case .interval: state.nextInterval = .now + app.syncPolicy.interval
            case .retry: state.retryAt = nil
            case .health: state.healthCheckAt = nil
            case .request: break
            }
        }
    }

    private func checkProject(_ app: AppSettings, target: any SyncTarget) throws {
        guard let project = self.configuration.project(named: app.project) else {
            throw SyncError(code: .refused, message: "project \(app.project) does not exist")
        }
        guard project.allowsSource(app.source.repoURL) else {
            throw SyncError(code: .refused, message: "project \(project.name) does not allow source \(GitRemote.redactingCredentials(app.source.repoURL))")
        }
        let destination = target.destination
        let unqualified = destination.split(separator: "#").first.map(String.init) ?? destination
        var cluster: (name: String, server: String?, namespace: String)?
        if case .kubernetes(let name, let namespace) = app.destination {
            cluster = (name, self.configuration.cluster(named: name)?.server, namespace ?? "")
        }
        let allowed = project.allows(destination: [destination, unqualified], cluster: cluster)
        guard allowed else {
            throw SyncError(code: .refused, message: "project \(project.name) does not allow destination \(GitRemote.redactingCredentials(destination))")
        }
    }

    /// Whether `descendant` is `ancestor` or contains it.
    private func contains(_ descendant: String, _ ancestor: String, _ remote: GitRemote) async throws -> Bool {
        if descendant == ancestor { return true }
        do {
            return try await self.mirrors.isAncestor(ancestor, of: descendant, in: remote)
        } catch {
            return false  // not in the mirror (a force-push removed it): not covered
        }
    }

    /// The tree diff between two commits, computed once for all the apps of a monorepo push.
    private func changes(from old: String, to new: String, in remote: GitRemote) async throws -> [GitChange] {
        let key = "\(remote.url) \(old) \(new)"
        if let cached = self.diffs.withLock({ $0[key] }) { return cached }
        let changes = try await self.mirrors.changes(from: old, to: new, in: remote)
        self.diffs.withLock { diffs in
            if diffs.count >= 64 { diffs.removeAll() }
            diffs[key] = changes
        }
        return changes
    }

    private func render(_ app: AppSettings, at revision: String, remote: GitRemote, for target: any SyncTarget) async throws -> [Manifest] {
        do {
            // Only Helm and plugins are told about the cluster: other sources need no round trip.
            let cluster = app.source.helm != nil || app.source.plugin != nil ? try await target.clusterFacts() : nil
            let rendered = try await AppRenderer.render(
                app, at: revision, in: remote, mirrors: self.mirrors, renderers: self.configuration.renderers, cluster: cluster
            )
            self.updateState(of: app.name) { $0.readsOutsidePath = rendered.readsOutsidePath }
            return rendered.manifests
        } catch let error as GitError {
            throw SyncError(code: .source, message: error.message)
        } catch let error as RenderError {
            throw SyncError(code: .render, message: error.description, sourceError: .init(file: error.file, line: error.line, message: error.message))
        }
    }

    static func syncError(_ error: any Error) -> SyncError {
        switch error {
        case let error as SyncError: error
        case let error as GitError: SyncError(code: .source, message: error.message)
        case let error as KubernetesError: SyncError(code: .target, message: error.description)
        default: SyncError(code: .target, message: "\(error)")
        }
    }

    static func triggerName(_ trigger: Trigger, healing: Bool) -> String {
        if healing { return "self-heal" }
        switch trigger {
        case .request(let request, _): return request.manual.map { $0.dryRun ? "dry-run" : "manual" } ?? "change"
        case .interval: return "interval"
        case .health: return "health"
        case .retry: return "retry"
        }
    }

    static func milliseconds(_ duration: Duration) -> Double {
        (duration.seconds * 1_000_000).rounded() / 1000
    }
}
