import Foundation
import TributaryCore
import TributaryGit
import TributaryRender

extension SyncEngine {
    /// Called with the app's lock held.
    func reconcile(_ app: AppSettings, trigger: Trigger, healing drift: DriftReport? = nil) async -> SyncEvent? {
        let startedAt = Date()
        let clock = ContinuousClock()
        let target = self.targets[app.name]!
        var timings = SyncEvent.Timings()
        let previous = self.state(of: app.name)
        let attempt: Int
        var cause: AppState.Cause?
        switch trigger {
        case .request(let request, _):
            attempt = 1
            cause = .init(changeID: request.changeID, deliveryID: request.deliveryID, receivedAt: request.receivedAt)
        case .retry:
            attempt = (previous?.failures ?? 0) + 1
            cause = previous?.retryCause
        case .interval:
            attempt = drift == nil && previous?.failures ?? 0 > 0 ? (previous?.failures ?? 0) + 1 : 1
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
        func finish(_ phase: SyncEvent.Phase, message: String? = nil) -> SyncEvent {
            event.phase = phase
            event.message = message
            event.finishedAt = Date()
            event.timings = timings
            self.metrics.recordSync(event)
            return event
        }

        var head = ""
        do {
            try self.checkProject(app, target: target)
            let remote: GitRemote
            do {
                remote = try GitRemote(url: app.source.repoURL, repository: self.configuration.repository(for: app.source.repoURL))
            } catch let error as GitError {
                throw SyncError(code: .source, message: error.message)
            }
            if case .request(let request, _) = trigger {
                event.revision = request.revision
                if request.deleted {
                    return finish(.skipped, message: "\(request.ref) was deleted; the target keeps its last state")
                }
                if app.syncPolicy.automated == nil {
                    return finish(.skipped, message: "automated sync is off for this app")
                }
            }
            var synced = previous?.loaded == true ? previous?.synced : nil
            if previous?.loaded != true {
                synced = try await target.inventory()?.revision
                self.updateState(of: app.name) {
                    $0.synced = synced
                    $0.loaded = true
                }
            }
            event.previousRevision = synced

            if case .request(let request, _) = trigger, let done = [synced, previous?.evaluated].compactMap({ $0 }).first(where: { $0 == request.revision }) {
                self.clearFailure(of: app)
                return finish(.coalesced, message: "already reconciled at \(done.prefix(12))")
            }
            if case .request(let request, _) = trigger, !request.touchesPath, previous?.usesKustomization == false,
               [synced, previous?.evaluated].contains(request.before) {
                // The planner's diff of the push does not reach the app, which was up to date before it: no git needed.
                self.updateState(of: app.name) { $0.evaluated = request.revision }
                self.clearFailure(of: app)
                return finish(.skipped, message: "no change under \(app.source.path.isEmpty ? "the repository root" : app.source.path) between \(request.before.prefix(12)) and \(request.revision.prefix(12))")
            }

            // Fetch: the requested commit, or for the interval the ref's head.
            let fetchStarted = clock.now
            let announced: String? = if case .request(let request, _) = trigger { request.revision } else { nil }
            do {
                if drift != nil, let synced {
                    head = synced  // healing restores what was synced, whatever the ref says now
                } else if case .request(let request, _) = trigger {
                    // Every worker renders the commit the planner resolved, whatever the ref says now.
                    head = request.revision
                    if !(try await self.mirrors.contains(commit: head, in: remote)) {
                        _ = try await self.mirrors.fetchHead(of: request.ref, in: remote, mustContain: head)
                    }
                } else if isCommitID(app.source.targetRevision) {
                    head = app.source.targetRevision.lowercased()
                    if !(try await self.mirrors.contains(commit: head, in: remote)) { try await self.mirrors.fetch(remote) }
                } else {
                    head = try await self.mirrors.fetchHead(of: app.source.targetRevision, in: remote, mustContain: announced)
                }
            } catch let error as GitError {
                throw SyncError(code: .source, message: error.message)
            }
            timings.fetchMilliseconds = Self.milliseconds(clock.now - fetchStarted)
            event.revision = head

            if drift == nil {
                if let announced {
                    let covered = [synced, previous?.evaluated].compactMap { $0 }
                    for revision in covered where try await self.contains(revision, announced, remote) {
                        self.clearFailure(of: app)
                        return finish(.coalesced, message: "already reconciled at \(revision.prefix(12)), which includes \(announced.prefix(12))")
                    }
                }
                if case .interval = trigger {
                    // Nothing new, or a revision that already failed and exhausted its retries.
                    if head == synced || head == previous?.evaluated {
                        self.clearFailure(of: app)
                        return nil
                    }
                    if head == previous?.failedRevision, previous?.retryAt == nil { return nil }
                    if app.syncPolicy.automated == nil { return nil }
                }
                if let synced, !(try await self.touches(app, from: synced, to: head, remote: remote)) {
                    self.updateState(of: app.name) { $0.evaluated = head }
                    self.clearFailure(of: app)
                    if case .request = trigger {
                        return finish(.skipped, message: "no change under \(app.source.path.isEmpty ? "the repository root" : app.source.path) between \(synced.prefix(12)) and \(head.prefix(12))")
                    }
                    return nil
                }
            }

            // Render.
            let renderStarted = clock.now
            let manifests = try await self.render(app, at: head, remote: remote)
            timings.renderMilliseconds = Self.milliseconds(clock.now - renderStarted)

            // Apply.
            let applyStarted = clock.now
            let context = ApplyContext(
                app: app.name,
                repoURL: app.source.repoURL,
                ref: app.source.targetRevision,
                revision: head,
                deliveryID: cause?.deliveryID,
                prune: app.syncPolicy.automated?.prune ?? false
            )
            event.resources = try await target.apply(ResourceLayout.resources(for: manifests), context: context)
            timings.applyMilliseconds = Self.milliseconds(clock.now - applyStarted)
            self.updateState(of: app.name) {
                $0.synced = head
                $0.evaluated = head
                $0.failures = 0
                $0.failedRevision = nil
                $0.retryAt = nil
                $0.retryCause = nil
                $0.reportedDrift = nil
            }
            return finish(drift != nil ? .healed : .succeeded, message: drift.map { "restored \($0.summary)" })
        } catch {
            let failure = Self.syncError(error)
            event.error = failure.sourceError
            let retry = app.syncPolicy.retry
            let retryAt: ContinuousClock.Instant? = failure.code != .refused && attempt <= retry.limit ? .now + Self.backoff(retry, attempt: attempt) : nil
            self.updateState(of: app.name) {
                $0.failures = attempt
                $0.failedRevision = head.isEmpty ? nil : head
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

    /// Called with the app's lock held.
    func driftCheck(_ app: AppSettings) async -> SyncEvent? {
        guard let target = self.targets[app.name], let state = self.state(of: app.name), state.synced != nil, state.failures == 0 else { return nil }
        let report: DriftReport
        do {
            report = try await target.drift()
        } catch {
            self.log.warning("Drift check failed", metadata: ["app": "\(app.name)", "error": "\(Self.syncError(error).message)"])
            return nil
        }
        if report.isEmpty {
            self.updateState(of: app.name) { $0.reportedDrift = nil }
            return nil
        }
        if app.syncPolicy.automated?.selfHeal == true {
            return await self.reconcile(app, trigger: .interval, healing: report)
        }
        guard state.reportedDrift != report else { return nil }
        self.updateState(of: app.name) { $0.reportedDrift = report }
        let now = Date()
        var event = SyncEvent(
            app: app.name, project: app.project,
            repository: RepositoryKey(url: app.source.repoURL)?.rawValue ?? GitRemote.redactingCredentials(app.source.repoURL),
            ref: app.source.targetRevision, revision: state.synced ?? "", phase: .driftDetected, trigger: "interval",
            destination: target.destination, message: "target differs from \(state.synced?.prefix(12) ?? "the last sync"): \(report.summary); selfHeal is off",
            startedAt: now, finishedAt: now
        )
        event.previousRevision = state.synced
        event.cluster = app.cluster
        self.metrics.recordSync(event)
        return event
    }

    /// Nothing was left to apply: an earlier failure no longer stands (and must not keep drift checks off).
    private func clearFailure(of app: AppSettings) {
        self.updateState(of: app.name) { state in
            state.failures = 0
            state.failedRevision = nil
            state.retryAt = nil
            state.retryCause = nil
        }
    }

    /// Marks due work as started: the interval timer moves forward, a retry is consumed (a failure
    /// schedules the next).
    public func scheduleNextInterval(for app: AppSettings, trigger: Trigger) {
        self.updateState(of: app.name) { state in
            switch trigger {
            case .interval: state.nextInterval = .now + app.syncPolicy.interval
            case .retry: state.retryAt = nil
            case .request: break
            }
        }
    }

    private func checkProject(_ app: AppSettings, target: any SyncTarget) throws {
        guard let project = self.configuration.project(named: app.project) else {
            throw SyncError(code: .refused, message: "project \(app.project) does not exist")
        }
        guard project.sourceRepos.contains(where: { $0.matches(app.source.repoURL) }) else {
            throw SyncError(code: .refused, message: "project \(project.name) does not allow source \(GitRemote.redactingCredentials(app.source.repoURL))")
        }
        let destination = target.destination
        let unqualified = destination.split(separator: "#").first.map(String.init) ?? destination
        guard project.destinations.contains(where: { $0.matches(destination) || $0.matches(unqualified) }) else {
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

    /// Whether the diff between two revisions touches the app. Apps rendered with a kustomization
    /// may read outside their path (`resources: [../base]`), so any change touches them.
    private func touches(_ app: AppSettings, from old: String, to new: String, remote: GitRemote) async throws -> Bool {
        if old == new { return false }
        let changes: [GitChange]
        do {
            changes = try await self.changes(from: old, to: new, in: remote)
        } catch {
            return true  // the old revision is gone (force-push): render to be sure
        }
        if self.state(of: app.name)?.usesKustomization ?? true { return !changes.isEmpty }
        return changes.touch(directory: app.source.path)
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

    private func render(_ app: AppSettings, at revision: String, remote: GitRemote) async throws -> [Manifest] {
        do {
            let rendered = try await AppRenderer.render(app, at: revision, in: remote, mirrors: self.mirrors)
            self.updateState(of: app.name) { $0.usesKustomization = rendered.usesKustomization }
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
        default: SyncError(code: .target, message: "\(error)")
        }
    }

    /// Argo CD's backoff: `duration × factor^(attempt-1)`, at most `maxDuration`.
    static func backoff(_ retry: AppSettings.SyncPolicy.Retry, attempt: Int) -> Duration {
        let seconds = retry.duration.seconds * pow(retry.factor, Double(max(attempt - 1, 0)))
        return .milliseconds(Int64(min(seconds, retry.maxDuration.seconds) * 1000))
    }

    static func triggerName(_ trigger: Trigger, healing: Bool) -> String {
        if healing { return "self-heal" }
        switch trigger {
        case .request: return "change"
        case .interval: return "interval"
        case .retry: return "retry"
        }
    }

    static func milliseconds(_ duration: Duration) -> Double {
        (duration.seconds * 1_000_000).rounded() / 1000
    }
}
