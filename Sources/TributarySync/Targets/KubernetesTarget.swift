import Foundation
import TributaryCore
import TributarySource
import TributaryKubernetes
import TributaryRender

/// A Kubernetes cluster as a sync target: server-side apply under field manager `tributary`,
/// after a dry-run of the whole set; an inventory ConfigMap per app (written before anything is
/// applied, so a crash never leaves an applied object outside it); prune of what the previous
/// inventory holds and the rendering no longer does; drift as a forced dry-run apply diffed
/// against the live object; health as gitops-engine assesses it.
public struct KubernetesTarget: SyncTarget {
    let client: KubernetesClient
    let cluster: String
    /// The destination namespace, given to namespaced objects that name none (to all of them with
    /// `overrideNamespace`).
    let namespace: String?
    let overrideNamespace: Bool
    let app: String
    let inventoryNamespace: String
    let options: AppSettings.SyncPolicy.Options
    let waitForHealth: Duration?
    let ignoreDifferences: [AppSettings.IgnoreDifference]
    /// The app's project: every object's namespace must be one of its destinations, as Argo CD
    /// checks each resource, not only the app's destination namespace.
    let project: ProjectSettings?
    /// How often health is polled while waiting for it.
    var healthPollInterval: Duration = .milliseconds(250)

    init(client: KubernetesClient, cluster: String, app: AppSettings, inventoryNamespace: String, project: ProjectSettings?) {
        self.client = client
        self.project = project
        self.cluster = cluster
        if case .kubernetes(_, let namespace) = app.destination { self.namespace = namespace } else { self.namespace = nil }
        self.overrideNamespace = app.overrideNamespace
        self.app = app.name
        self.inventoryNamespace = inventoryNamespace
        self.options = app.syncPolicy.options
        self.waitForHealth = app.syncPolicy.waitForHealth
        self.ignoreDifferences = app.ignoreDifferences
    }

    public var destination: String { "kubernetes:\(self.cluster)/\(self.namespace ?? "")" }

    public var comparesWithManifests: Bool { true }

    public func appliedRevision() async throws -> String? {
        try await self.readInventory()?.revision
    }

    // MARK: Apply

    public func apply(_ manifests: [Manifest], context: ApplyContext) async throws -> ApplyOutcome {
        let (rendered, definedKinds) = try await self.desiredObjectsAndDefinedKinds(manifests)
        let (objects, hooks) = try KubernetesPlan.splitHooks(rendered)
        var started = false
        do {
            return try await self.apply(objects, hooks: hooks, definedKinds: definedKinds, context: context, started: &started)
        } catch {
            // Argo CD's SyncFail hooks: run once the sync itself failed — not when it was refused or
            // its dry-run rejected before anything ran, and not when the worker is stopping.
            guard started, !(error is CancellationError), !Task.isCancelled, hooks.contains(where: { $0.phases.contains(.syncFail) }) else { throw error }
            do {
                try await self.runHooks(hooks, phase: .syncFail, deadline: .now + (self.waitForHealth ?? Self.defaultHookTimeout))
            } catch let hookError as SyncError {
                var combined = SyncEngine.syncError(error)
                combined.message += "; then \(hookError.message)"
                throw combined
            }
            throw error
        }
    }

    private func apply(_ objects: [DesiredObject], hooks: [SyncHook], definedKinds: Set<String>, context: ApplyContext, started: inout Bool) async throws -> ApplyOutcome {
        let previous = try await self.readInventory()
        var counts = SyncEvent.ResourceCounts()

        // What waits to be dry-run: objects in a namespace the sync creates, custom resources of a
        // CRD it creates (the API cannot dry-run them before those exist).
        let creating = try await self.namespacesToCreate(objects)
        var pendingKinds: Set<String> = []
        for kind in definedKinds {
            let parts = kind.split(separator: " ").map(String.init)
            if (try? await self.client.resource(apiVersion: parts[0], kind: parts[1])) == nil { pendingKinds.insert(kind) }
        }
        let createdByObjects = Set(objects.filter { $0.reference.kind == "Namespace" && $0.reference.group.isEmpty }.map(\.reference.name))
        func waitsForTheSet(_ object: DesiredObject) -> Bool {
            (creating.contains(object.reference.namespace) && createdByObjects.contains(object.reference.namespace))
                || pendingKinds.contains("\(object.reference.apiVersion) \(object.reference.kind)")
        }

        // 1. Dry-run: a rejection fails the sync before anything is applied. The destination
        //    namespace of CreateNamespace=true (not part of the app, as in Argo CD) is created first
        //    so that what goes into it can be dry-run too.
        var dryRuns: [ObjectReference: JSONValue] = [:]
        for (reference, result) in try await self.concurrently(objects.filter { !waitsForTheSet($0) && !creating.contains($0.reference.namespace) }, { ($0.reference, try await self.dryRun($0)) }) {
            dryRuns[reference] = result
        }
        if let namespace = self.namespace, self.options.createNamespace, creating.contains(namespace), !createdByObjects.contains(namespace) {
            _ = try await self.applyObject(.object(["apiVersion": "v1", "kind": "Namespace", "metadata": .object(["name": .string(namespace)])]), source: "syncOptions CreateNamespace=true")
            for (reference, result) in try await self.concurrently(objects.filter { $0.reference.namespace == namespace && !waitsForTheSet($0) }, { ($0.reference, try await self.dryRun($0)) }) {
                dryRuns[reference] = result
            }
        }

        // PreSync hooks (a migration Job, say), once everything has passed the dry-run.
        started = true
        try await self.runHooks(hooks, phase: .preSync, deadline: .now + (self.waitForHealth ?? Self.defaultHookTimeout))

        // 2. The inventory, before any object: previous ∪ new (one entry per object, at its new
        //    apiVersion), still at the previous revision.
        let previousReferences = previous?.objects ?? []
        try await self.writeInventory(KubernetesPlan.union(previousReferences, objects.map(\.reference)), revision: previous?.revision)

        // 3. Apply, batch by batch: Namespaces and CRDs, then the waves.
        var applied: [ObjectReference: JSONValue] = [:]
        let deadline = self.waitForHealth.map { ContinuousClock.now + $0 }
        let batches = KubernetesPlan.batches(objects)
        // Sync hooks take part in the waves, as in Argo CD: a wave's hooks run once its objects are
        // applied (and healthy, with waitForHealth), before the next wave.
        var syncHooks = hooks.filter { $0.phases.contains(.sync) }
        func runSyncHooks(through wave: Int?) async throws {
            let due = syncHooks.filter { hook in wave.map { hook.object.wave <= $0 } ?? true }
            guard !due.isEmpty else { return }
            syncHooks.removeAll { hook in wave.map { hook.object.wave <= $0 } ?? true }
            try await self.runHooks(due, phase: .sync, deadline: .now + (self.waitForHealth ?? Self.defaultHookTimeout))
        }
        for (index, batch) in batches.enumerated() {
            if let wave = batch.wave { try await runSyncHooks(through: wave - 1) }
            if batch.wave != nil {
                // What waited for the set's Namespaces and CRDs is dry-run before anything else is applied.
                let waiting = objects.filter { dryRuns[$0.reference] == nil && applied[$0.reference] == nil }
                for (reference, result) in try await self.concurrently(waiting, { ($0.reference, try await self.dryRun($0)) }) {
                    dryRuns[reference] = result
                }
            }
            let known = dryRuns
            let results = try await self.concurrently(batch.objects) { object -> (ObjectReference, JSONValue, JSONValue) in
                let before: JSONValue
                if let known = known[object.reference] { before = known } else { before = try await self.dryRun(object) }
                let after = try await self.applyObject(object.object, source: object.source, reference: object.reference)
                return (object.reference, before, after)
            }
            for (reference, before, after) in results {
                applied[reference] = after
                switch KubernetesPlan.applyOutcome(dryRun: before, applied: after) {
                case .created: counts.created += 1
                case .updated: counts.updated += 1
                case .unchanged: counts.unchanged += 1
                }
                if reference.kind == "CustomResourceDefinition", reference.group == "apiextensions.k8s.io" {
                    try await self.waitUntilEstablished(reference, object: after)
                }
            }
            if let deadline, batch.wave != nil, index + 1 == batches.count || batches[index + 1].wave != batch.wave {
                try await self.waitUntilHealthy(objects.filter { $0.wave == batch.wave }.map(\.reference), deadline: deadline, wave: batch.wave, timeout: self.waitForHealth ?? .zero)
                // Controllers wrote meanwhile: dry-run what is still to come again just before applying
                // it, so an unchanged object is still told from a changed one.
                dryRuns = dryRuns.filter { applied[$0.key] != nil }
            }
            if let wave = batch.wave, index + 1 == batches.count || batches[index + 1].wave != wave { try await runSyncHooks(through: wave) }
        }
        try await runSyncHooks(through: nil)

        // 4. Prune what the previous inventory holds and the rendering no longer does.
        // A hook is not pruned, even if an earlier rendering applied it as an ordinary object.
        let stale = KubernetesPlan.stale(previousReferences, rendered: objects.map(\.reference) + hooks.map(\.object.reference))
        var kept: [ObjectReference] = []
        let lives = try await self.concurrently(stale) { reference in (reference, try await self.liveForPrune(reference)) }
        // Reverse wave order, as Argo CD prunes.
        for (reference, live) in lives.sorted(by: { Self.wave(of: $0.1) > Self.wave(of: $1.1) }) {
            switch KubernetesPlan.pruneAction(for: live, app: self.app, prune: context.prune) {
            case .delete:
                do {
                    _ = try await self.client.delete(reference, propagation: self.options.prunePropagationPolicy, uid: live?[path: "metadata.uid"]?.string)
                } catch let error as KubernetesError {
                    throw Self.failure(error, doing: "delete", reference, source: "prune")
                }
                counts.pruned += 1
            case .gone:
                counts.pruned += 1
            case .keep:
                kept.append(reference)
                counts.orphaned += 1
            case .release:
                break
            }
        }

        // PostSync hooks run once the app is healthy, as in Argo CD.
        if hooks.contains(where: { $0.phases.contains(.postSync) }) {
            let timeout = self.waitForHealth ?? Self.defaultHookTimeout
            if deadline == nil { try await self.waitUntilHealthy(objects.map(\.reference), deadline: .now + timeout, wave: nil, timeout: timeout) }
            try await self.runHooks(hooks, phase: .postSync, deadline: .now + timeout)
        }

        // 5. The inventory at the new revision.
        try await self.writeInventory(Set(objects.map(\.reference)).union(kept), revision: context.revision)
        // Waited for: as it is now. Otherwise as the apply answered (a new rollout is Progressing).
        let health: SyncEvent.Health
        if deadline != nil {
            health = self.assess(try await self.concurrently(objects) { ($0.reference, try await self.get($0.reference, source: "health")) })
        } else {
            health = self.assess(objects.map { ($0.reference, applied[$0.reference]) })
        }
        return ApplyOutcome(counts: counts, health: health)
    }

    /// A previous object as prune sees it; a kind the API no longer serves counts as gone.
    private func liveForPrune(_ reference: ObjectReference) async throws -> JSONValue? {
        do {
            return try await self.client.get(reference)
        } catch let error as KubernetesError where error.code == .unknownKind {
            return nil
        } catch let error as KubernetesError {
            throw Self.failure(error, doing: "get", reference, source: "prune")
        }
    }

    /// A live object; errors name the verb, the object and why it was read.
    func get(_ reference: ObjectReference, source: String) async throws -> JSONValue? {
        do {
            return try await self.client.get(reference)
        } catch let error as KubernetesError {
            throw Self.failure(error, doing: "get", reference, source: source)
        }
    }

    /// The manifests as objects for this destination, kinds looked up in discovery; hooks are not
    /// among them (they are not part of what the app holds).
    func desiredObjects(_ manifests: [Manifest]) async throws -> [DesiredObject] {
        try KubernetesPlan.splitHooks(try await self.desiredObjectsAndDefinedKinds(manifests).objects).resources
    }

    /// The objects, and the kinds (`apiVersion kind`) CRDs among them define.
    func desiredObjectsAndDefinedKinds(_ manifests: [Manifest]) async throws -> (objects: [DesiredObject], definedKinds: Set<String>) {
        let parsed = try KubernetesPlan.parse(manifests)
        let defined = KubernetesPlan.definedKinds(parsed)
        var scopes = defined
        for (manifest, _) in parsed where scopes["\(manifest.apiVersion) \(manifest.kind)"] == nil {
            do {
                let resource = try await self.client.resource(apiVersion: manifest.apiVersion, kind: manifest.kind)
                scopes["\(manifest.apiVersion) \(manifest.kind)"] = resource.namespaced ? .namespaced : .cluster
            } catch let error as KubernetesError where error.code == .unknownKind {
                continue  // prepare names the manifest
            } catch let error as KubernetesError {
                throw Self.failure(error, doing: "discover", nil, source: manifest.source)
            }
        }
        let objects = try KubernetesPlan.prepare(parsed, app: self.app, namespace: self.namespace, overrideNamespace: self.overrideNamespace, scopes: scopes)
        if let project = self.project {
            for object in objects {
                if let refusal = project.refusal(group: object.reference.group, kind: object.reference.kind, clusterScoped: object.reference.namespace.isEmpty) {
                    throw SyncError(code: .refused, message: "\(object.source): \(refusal): \(object.reference)")
                }
            }
            let server = self.client.connection.server
            for object in objects where !object.reference.namespace.isEmpty {
                let namespace = object.reference.namespace
                let asString = "kubernetes:\(self.cluster)/\(namespace)"
                guard project.allows(destination: [asString], cluster: (self.cluster, server, namespace))
                else {
                    throw SyncError(code: .refused, message: "\(object.source): project \(project.name) does not allow namespace \(namespace) of cluster \(self.cluster) (\(object.reference))")
                }
            }
        }
        return (objects, Set(defined.keys))
    }

    /// Namespaces objects go to that do not exist and that this sync creates (a Namespace object,
    /// or the destination with `CreateNamespace=true`).
    private func namespacesToCreate(_ objects: [DesiredObject]) async throws -> Set<String> {
        var created = Set(objects.filter { $0.reference.kind == "Namespace" && $0.reference.group.isEmpty }.map(\.reference.name))
        if self.options.createNamespace, let namespace = self.namespace { created.insert(namespace) }
        var missing: Set<String> = []
        for namespace in created {
            let reference = ObjectReference(apiVersion: "v1", kind: "Namespace", namespace: "", name: namespace)
            do {
                if try await self.client.get(reference) == nil { missing.insert(namespace) }
            } catch let error as KubernetesError {
                throw Self.failure(error, doing: "get", reference, source: "namespace check")
            }
        }
        return missing
    }

    private func dryRun(_ object: DesiredObject) async throws -> JSONValue {
        do {
            return try await self.client.apply(object.object, fieldManager: KubernetesPlan.fieldManager, force: self.options.force, dryRun: true)
        } catch let error as KubernetesError {
            throw Self.failure(error, doing: "dry-run apply", object.reference, source: object.source)
        }
    }

    private func applyObject(_ object: JSONValue, source: String, reference: ObjectReference? = nil) async throws -> JSONValue {
        do {
            return try await self.client.apply(object, fieldManager: KubernetesPlan.fieldManager, force: self.options.force)
        } catch let error as KubernetesError {
            throw Self.failure(error, doing: "apply", reference ?? ObjectReference(of: object), source: source)
        }
    }

    private func waitUntilEstablished(_ reference: ObjectReference, object: JSONValue) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        var current: JSONValue? = object
        while true {
            let established = current?[path: "status.conditions"]?.array?.contains { $0["type"]?.string == "Established" && $0["status"]?.string == "True" } ?? false
            if established { break }
            guard ContinuousClock.now < deadline else {
                throw SyncError(code: .target, message: "\(reference) was applied but is not Established after 60 s")
            }
            try await Task.sleep(for: .milliseconds(100))
            current = try await self.get(reference, source: "waiting for Established")
        }
        // Its kinds are served now: the next lookup of them fetches discovery again.
        if let group = object[path: "spec.group"]?.string {
            for version in object[path: "spec.versions"]?.array ?? [] {
                if let name = version["name"]?.string { _ = try? await self.client.discover("\(group)/\(name)") }
            }
        }
    }

    /// `syncPolicy.waitForHealth`: polls the wave's objects until all are healthy; Degraded fails at once.
    private func waitUntilHealthy(_ references: [ObjectReference], deadline: ContinuousClock.Instant, wave: Int?, timeout: Duration) async throws {
        while true {
            let lives = try await self.concurrently(references) { reference in (reference, try await self.get(reference, source: "waitForHealth")) }
            let assessments = lives.map { ($0.0, Health.assess($0.1)) }
            let worst = Health.worst(assessments)
            let label = wave.map { "wave \($0)" } ?? "the app"
            switch worst.status {
            case .healthy:
                return
            case .degraded:
                throw SyncError(code: .target, message: "not healthy: \(label) is Degraded: \(worst.message ?? "")")
            default:
                guard ContinuousClock.now < deadline else {
                    throw SyncError(code: .target, message: "not healthy after \(Self.describe(timeout)): \(label) is \(worst.status.rawValue): \(worst.message ?? "")")
                }
                try await Task.sleep(for: self.healthPollInterval)
            }
        }
    }

    // MARK: Drift and health

    public func drift(from manifests: [Manifest]) async throws -> DriftReport {
        let objects = try await self.desiredObjects(manifests)
        let results = try await self.concurrently(objects) { object -> (ObjectReference, [String]?) in
            guard let live = try await self.get(object.reference, source: "drift check") else { return (object.reference, nil) }
            // What an apply would make of the live object: fields set by others and defaults stay, so
            // they are not drift; a field the manifest sets but someone changed (and took) is.
            let applied: JSONValue
            do {
                applied = try await self.client.apply(object.object, fieldManager: KubernetesPlan.fieldManager, force: true, dryRun: true)
            } catch let error as KubernetesError {
                throw Self.failure(error, doing: "dry-run apply", object.reference, source: object.source)
            }
            return (object.reference, KubernetesPlan.driftedFields(live: live, applied: applied, reference: object.reference, ignoring: self.ignoreDifferences))
        }
        var report = DriftReport()
        for (reference, fields) in results.sorted(by: { $0.0 < $1.0 }) {
            guard let fields else {
                report.missing.append("\(reference)")
                continue
            }
            if !fields.isEmpty { report.modified.append("\(reference) (\(fields.joined(separator: ", ")))") }
        }
        return report
    }

    public func clusterFacts() async throws -> ClusterFacts? {
        let versions = try await self.client.versions()
        return ClusterFacts(kubeVersion: ClusterFacts.semanticVersion(of: versions.gitVersion), apiVersions: versions.apiVersions)
    }

    public func health() async throws -> SyncEvent.Health? {
        guard let inventory = try await self.readInventory() else { return nil }
        let lives = try await self.concurrently(inventory.objects) { reference in (reference, try await self.get(reference, source: "health check")) }
        return self.assess(lives)
    }

    private func assess(_ objects: [(ObjectReference, JSONValue?)]) -> SyncEvent.Health {
        let worst = Health.worst(objects.map { ($0.0, Health.assess($0.1)) })
        return SyncEvent.Health(status: worst.status.rawValue, message: worst.message)
    }

    // MARK: Helpers

    /// Runs `body` for each element, up to eight at once (the API server's per-client fairness
    /// is the limit that matters, not ours); results in input order.
    func concurrently<Element: Sendable, Result: Sendable>(_ elements: [Element], _ body: @escaping @Sendable (Element) async throws -> Result) async throws -> [Result] {
        try await withThrowingTaskGroup(of: (Int, Result).self) { group in
            var results: [Result?] = Array(repeating: nil, count: elements.count)
            var next = 0
            for _ in 0..<min(8, elements.count) {
                let index = next
                group.addTask { (index, try await body(elements[index])) }
                next += 1
            }
            while let (index, result) = try await group.next() {
                results[index] = result
                if next < elements.count {
                    let index = next
                    group.addTask { (index, try await body(elements[index])) }
                    next += 1
                }
            }
            return results.map { $0! }
        }
    }

    static func wave(of object: JSONValue?) -> Int {
        let annotations = object?[path: "metadata.annotations"]?.object ?? [:]
        return ["tributary.dev/sync-wave", "argocd.argoproj.io/sync-wave"].lazy.compactMap { annotations[$0]?.string.flatMap { Int($0) } }.first ?? 0
    }

    /// A Kubernetes failure as a sync failure naming the verb, the object and the manifest.
    static func failure(_ error: KubernetesError, doing verb: String, _ reference: ObjectReference?, source: String) -> SyncError {
        let object = reference.map { "\($0) (\(source))" } ?? source
        var message: String
        switch error.code {
        case .unauthorized:
            message = "\(verb) \(object): the API server refused the credentials (401)"
        case .conflict where !error.fields.isEmpty:
            message = "\(verb) \(object): \(error.message); remove ForceConflicts=false from syncOptions to take these fields over"
        default:
            message = "\(verb) \(object): \(error.description)"
        }
        if error.code == .notFound, error.message.hasPrefix("namespaces ") { message += " (syncOptions CreateNamespace=true creates the destination namespace)" }
        return SyncError(code: .target, message: message)
    }

    static func describe(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        return seconds % 60 == 0 && seconds > 0 ? "\(seconds / 60)m" : "\(seconds)s"
    }
}
