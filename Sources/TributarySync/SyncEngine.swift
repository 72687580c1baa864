import Foundation
import Logging
import Synchronization
import TributaryCore
import TributaryGit
import TributaryKubernetes
import TributaryRender
import TributarySource
import TributaryStage

/// Reconciles apps: fetch the source, decide whether the app is touched, render, apply to the
/// target, and describe the outcome as a sync event. Kafka-free, so it can be driven by the
/// worker's consumer, its interval and retry timers, or a test.
///
/// One app never syncs twice at once (a per-app lock); at most `parallelism` apps sync at once.
public final class SyncEngine: Sendable {
    /// Why a sync runs; it becomes the event's `trigger`.
    public enum Trigger: Sendable {
        /// A planned push: sync to the request's revision if the diff touches the app.
        case request(SyncRequest, id: String)
        /// The periodic reconcile: catch up with the ref if a webhook was missed, then check drift.
        case interval
        /// A retry after a failure, with the cause of the first attempt.
        case retry
        /// A look at the health of an app still rolling out (Kubernetes targets); no sync.
        case health
    }

    let configuration: TributaryConfiguration
    let mirrors: GitMirrorCache
    let targets: [String: any SyncTarget]
    public let metrics: WorkerMetrics
    private let states = Mutex<[String: AppState]>([:])
    /// Recent tree diffs by `url old new`: one push to a monorepo is diffed once, not once per app.
    let diffs = Mutex<[String: [GitChange]]>([:])
    /// How soon the health of an app that is still progressing is looked at again. Default 5 s.
    public let healthInterval: Duration
    /// Operators' suspensions, from `<prefix>.controls`; syncs wait until it has been read.
    public let controls: AppControls
    private let locks = KeyedAsyncLock()
    private let limiter: AsyncSemaphore
    private let logger: Logger

    /// - Parameters:
    ///   - parallelism: how many apps may sync at once.
    /// - Throws: `SyncError` when a git destination's credentials cannot be resolved.
    public init(
        configuration: TributaryConfiguration, mirrors: GitMirrorCache, parallelism: Int = 8, healthInterval: Duration = .seconds(5),
        controls: AppControls = AppControls(loaded: true), metrics: WorkerMetrics = WorkerMetrics(), logger: Logger
    ) throws {
        self.configuration = configuration
        self.healthInterval = healthInterval
        self.controls = controls
        self.mirrors = mirrors
        self.metrics = metrics
        self.limiter = AsyncSemaphore(limit: parallelism)
        self.logger = logger
        var targets: [String: any SyncTarget] = [:]
        var clients: [String: KubernetesClient] = [:]
        for app in configuration.apps {
            switch app.destination {
            case .kubernetes(let name, _):
                guard let cluster = configuration.cluster(named: name) else {
                    throw SyncError(code: .target, message: "app \(app.name): no cluster named \(name)")
                }
                // One client per cluster, shared by its apps.
                if clients[name] == nil { clients[name] = try KubernetesClient.make(for: cluster, userAgent: "tributary/worker") }
                targets[app.name] = try KubernetesTarget.make(for: app, in: configuration, client: clients[name])
            case .directory(let path):
                targets[app.name] = DirectoryTarget(path: path)
            case .git(let url, let branch, let path):
                do {
                    let remote = try GitRemote(url: url, repository: configuration.repository(for: url))
                    targets[app.name] = GitBranchTarget(remote: remote, branch: branch, directory: path, app: app.name, mirrors: mirrors)
                } catch let error as GitError {
                    throw SyncError(code: .target, message: "app \(app.name): \(error.message)")
                }
            }
        }
        self.targets = targets
    }

    /// Apps with a retry or an interval reconcile due, among `apps`.
    public func dueWork(among apps: [AppSettings], now: ContinuousClock.Instant = .now) -> [(AppSettings, Trigger)] {
        self.states.withLock { states in
            apps.compactMap { app in
                let state = states[app.name, default: AppState(nextInterval: now)]
                if let retryAt = state.retryAt, retryAt <= now { return (app, .retry) }
                if state.nextInterval <= now { return (app, .interval) }
                if let healthAt = state.healthCheckAt, healthAt <= now { return (app, .health) }
                return nil
            }
        }
    }

    /// Forgets timers for apps this worker no longer owns and makes newly owned apps due now, so a
    /// worker that takes over an app reconciles it at once.
    public func ownershipChanged(owned: [AppSettings], now: ContinuousClock.Instant = .now) {
        let names = Set(owned.map(\.name))
        self.states.withLock { states in
            for name in states.keys where !names.contains(name) {
                states[name]?.retryAt = nil
                states[name]?.owned = false
                // The new owner may sync meanwhile: read the target's inventory again when it comes back.
                states[name]?.loaded = false
                states[name]?.record(health: nil, recheckAfter: .zero)
                states[name]?.difference = nil
            }
            for name in names where states[name]?.owned != true {
                states[name, default: AppState(nextInterval: now)].owned = true
                states[name]?.nextInterval = now
            }
        }
    }

    /// Runs one reconcile of `app`: returns the events it produced (none when nothing happened).
    public func sync(_ app: AppSettings, trigger: Trigger) async -> SyncEvent? {
        await self.controls.waitUntilLoaded()
        guard self.controls.isLoaded else { return nil }  // cancelled before the suspensions were known
        return await self.locks.withLock(app.name) {
            await self.limiter.withPermit {
                await self.reconcile(self.controlled(app), trigger: trigger)
            }
        }
    }

    /// `app` as its control has it: a suspended app syncs only by hand, like a manual one.
    func controlled(_ app: AppSettings) -> AppSettings {
        guard self.controls.isSuspended(app.name) else { return app }
        var app = app
        app.syncPolicy.automated = nil
        return app
    }

    /// An app's control changed: reconcile it at the next look at due work (a resumed app catches up at once).
    public func controlChanged(_ app: String, now: ContinuousClock.Instant = .now) {
        self.states.withLock { states in
            guard states[app]?.owned == true else { return }
            states[app]?.nextInterval = now
        }
    }

    /// Fetches the repository of a pushed change when one of `apps` follows its ref, so the sync
    /// request the planner makes of it finds the commit in the mirror. Failures are only logged:
    /// the request's own fetch tries again.
    public func prefetch(_ change: ChangeEvent, for apps: (AppSettings) -> Bool) async {
        guard !change.deleted, let app = self.configuration.apps(following: change).first(where: apps) else { return }
        do {
            let remote = try GitRemote(url: app.source.repoURL, repository: self.configuration.repository(for: app.source.repoURL))
            _ = try await self.mirrors.fetchHead(of: change.ref, in: remote, mustContain: change.after)
        } catch {
            self.logger.debug("Prefetch failed", metadata: ["repository": "\(change.repository.key)", "error": "\(Self.syncError(error).message)"])
        }
    }

    /// A look at the health of an app still rolling out: an event when it changed.
    public func checkHealth(_ app: AppSettings) async -> SyncEvent? {
        await self.locks.withLock(app.name) {
            await self.limiter.withPermit {
                guard let target = self.targets[app.name], let state = self.state(of: app.name), state.synced != nil else { return nil }
                return await self.healthCheck(app, target: target, state: state)
            }
        }
    }

    /// The interval's second half: compare the target with its inventory; heal or report.
    public func checkDrift(_ app: AppSettings) async -> SyncEvent? {
        await self.controls.waitUntilLoaded()
        guard self.controls.isLoaded else { return nil }
        return await self.locks.withLock(app.name) {
            await self.limiter.withPermit {
                await self.driftCheck(self.controlled(app))
            }
        }
    }

    func state(of app: String) -> AppState? {
        self.states.withLock { $0[app] }
    }

    func updateState(of app: String, _ body: (inout AppState) -> Void) {
        self.states.withLock { states in
            body(&states[app, default: AppState(nextInterval: .now)])
        }
    }

    var log: Logger { self.logger }
}

/// What the engine remembers about an app between syncs. The durable part — the last applied
/// revision — lives in the target's inventory; this is a cache of it plus timers.
struct AppState: Sendable {
    /// Whether `synced` was read from the target since this worker (re)gained the app.
    var loaded = false
    /// The source revision the target holds.
    var synced: String?
    /// A later revision found not to touch the app.
    var evaluated: String?
    /// Consecutive failed attempts.
    var failures = 0
    /// The head that last failed, so the interval does not retry it forever.
    var failedRevision: String?
    var retryAt: ContinuousClock.Instant?
    /// The push behind the failure being retried, for tracing.
    var retryCause: Cause?
    var nextInterval: ContinuousClock.Instant
    /// The drift last reported, so a lasting drift is reported once.
    var reportedDrift: DriftReport?
    /// A manual app's last comparison with its target (nil: not compared yet), so a lasting
    /// difference is reported once.
    var difference: SyncEvent.Difference?
    /// The health last reported (Kubernetes targets), so a change is reported once.
    var health: SyncEvent.Health?
    /// While the app is progressing: when to look at its health again.
    var healthCheckAt: ContinuousClock.Instant?
    var owned = false
    /// Whether the last render may have read outside the app's path (a kustomization, Jsonnet,
    /// Helm, a plugin); nil
    /// until this worker has rendered the app (then any change counts as touching it).
    var readsOutsidePath: Bool?

    init(nextInterval: ContinuousClock.Instant) {
        self.nextInterval = nextInterval
    }

    /// Remembers the app's health; while it is progressing, looks again after `interval`.
    mutating func record(health: SyncEvent.Health?, recheckAfter interval: Duration) {
        self.health = health
        self.healthCheckAt = health?.status == "Progressing" ? .now + interval : nil
    }

    /// Nothing is left to retry: an earlier failure no longer stands (and must not keep drift checks off).
    mutating func clearFailure() {
        self.failures = 0
        self.failedRevision = nil
        self.retryAt = nil
        self.retryCause = nil
    }

    struct Cause: Sendable {
        var changeID: String
        var deliveryID: String
        var receivedAt: Date
    }
}
