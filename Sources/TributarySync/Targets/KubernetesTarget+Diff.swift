import Foundation
import TributaryCore
import TributaryKubernetes
import TributaryRender

/// What a sync of a cluster app would change, object by object (`tributary render --diff`).
public struct ObjectDiff: Sendable {
    public enum Change: Sendable {
        case create
        /// Fields that would change, with values as compact JSON; a Secret's values are masked.
        case update([(path: String, old: String, new: String)])
        case unchanged
        /// In the inventory, no longer rendered: a sync deletes it.
        case prune
        /// In the inventory, no longer rendered, and kept: why (prune is off, `Prune=false`).
        case orphan(String)
    }

    var reference: ObjectReference
    public var change: Change

    /// `Deployment.apps team/web`.
    public var object: String { "\(self.reference)" }
}

extension KubernetesTarget {
    /// The target for a cluster app of `configuration`.
    ///
    /// - Parameter client: the cluster's client, when the caller shares one among its apps.
    /// - Throws: `SyncError` when the app's destination is not a cluster or its credentials cannot be read.
    public static func make(for app: AppSettings, in configuration: TributaryConfiguration, client: KubernetesClient? = nil) throws -> KubernetesTarget {
        guard case .kubernetes(let name, _) = app.destination, let cluster = configuration.cluster(named: name) else {
            throw SyncError(code: .target, message: "app \(app.name) does not sync to a Kubernetes cluster declared in clusters")
        }
        return KubernetesTarget(
            client: try client ?? KubernetesClient.make(for: cluster, userAgent: "tributary/render"), cluster: name, app: app,
            inventoryNamespace: cluster.inventoryNamespace, project: configuration.project(named: app.project)
        )
    }

    /// What applying `manifests` would do: a forced dry-run apply of each compared with the live
    /// object, and the inventory's objects that are no longer rendered.
    public func diff(_ manifests: [Manifest], prune: Bool) async throws -> [ObjectDiff] {
        let objects = try await self.desiredObjects(manifests)
        var result = try await self.concurrently(objects) { object -> ObjectDiff in
            guard let live = try await self.get(object.reference, source: object.source) else { return ObjectDiff(reference: object.reference, change: .create) }
            let applied: JSONValue
            do {
                applied = try await self.client.apply(object.object, fieldManager: KubernetesPlan.fieldManager, force: true, dryRun: true)
            } catch let error as KubernetesError {
                throw Self.failure(error, doing: "dry-run apply", object.reference, source: object.source)
            }
            let secret = object.reference.kind == "Secret" && object.reference.group.isEmpty
            let changes = FieldDiff.changes(from: live, to: applied).map { change in
                (path: change.path, old: secret ? "(hidden)" : Self.show(change.old), new: secret ? "(hidden)" : Self.show(change.new))
            }
            return ObjectDiff(reference: object.reference, change: changes.isEmpty ? .unchanged : .update(changes))
        }
        // What the previous inventory holds and the rendering does not: as a sync's prune would decide.
        for reference in KubernetesPlan.stale(try await self.readInventory()?.objects ?? [], rendered: objects.map(\.reference)) {
            switch KubernetesPlan.pruneAction(for: try await self.get(reference, source: "diff"), app: self.app, prune: prune) {
            case .delete: result.append(ObjectDiff(reference: reference, change: .prune))
            case .keep(let why): result.append(ObjectDiff(reference: reference, change: .orphan(why)))
            case .gone, .release: continue
            }
        }
        return result
    }

    public func compare(_ manifests: [Manifest], prune: Bool) async throws -> SyncEvent.Difference {
        var difference = SyncEvent.Difference()
        for object in try await self.diff(manifests, prune: prune) {
            switch object.change {
            case .create: difference.create.append(object.object)
            case .update(let fields):
                // As drift sees it: the app's ignore rules hold, and Tributary's own tracking
                // annotation (missing while another tool still manages the object) is no difference.
                let ignored = Set(KubernetesPlan.ignoredPaths(fields.map(\.path), reference: object.reference, rules: self.ignoreDifferences))
                let paths = fields.map(\.path).filter { !ignored.contains($0) && $0 != ".metadata.annotations.\(KubernetesPlan.trackingAnnotation)" }
                if !paths.isEmpty { difference.update.append("\(object.object) (\(paths.joined(separator: ", ")))") }
            case .prune: difference.delete.append(object.object)
            case .unchanged, .orphan: continue
            }
        }
        return difference
    }

    private static func show(_ value: JSONValue?) -> String {
        value.map { String(decoding: $0.encoded(), as: UTF8.self) } ?? "(absent)"
    }
}
