import Foundation
import TributaryCore
import TributaryKubernetes
import TributaryRender
import Yams

/// One rendered object as it will be applied: namespace filled in, tracking annotation added.
struct DesiredObject: Sendable {
    var reference: ObjectReference
    var object: JSONValue
    var wave: Int
    /// `file:line` of the manifest, for messages.
    var source: String
}

/// The decisions of a Kubernetes sync, apart from its requests: what the objects are, in which
/// order they are applied, which previous objects are pruned, what counts as drift.
enum KubernetesPlan {
    /// Tributary's tracking annotation, as Argo CD's `argocd.argoproj.io/tracking-id`:
    /// `<app>:<group>/<kind>:<namespace>/<name>`.
    static let trackingAnnotation = "tributary.dev/tracking-id"
    /// `Prune=false` in either key keeps an object that is no longer rendered.
    static let syncOptionsAnnotations = ["tributary.dev/sync-options", "argocd.argoproj.io/sync-options"]
    static let fieldManager = "tributary"
    static let resolver = Resolver.default.removing(.timestamp)

    static func trackingID(app: String, _ reference: ObjectReference) -> String {
        "\(app):\(reference.group)/\(reference.kind):\(reference.namespace)/\(reference.name)"
    }

    /// The app a live object's tracking annotation names, if it describes that very object (an
    /// annotation copied onto another object is ignored, as Argo CD does).
    static func trackingApp(of object: JSONValue) -> String? {
        guard let id = object[path: "metadata.annotations"]?[trackingAnnotation]?.string, let reference = ObjectReference(of: object),
            let colon = id.firstIndex(of: ":")
        else { return nil }
        let app = String(id[..<colon])
        return id == self.trackingID(app: app, reference) ? app : nil
    }

    /// The kinds the manifests use, to look up in discovery before `prepare`.
    static func parse(_ manifests: [Manifest]) throws -> [(Manifest, JSONValue)] {
        try manifests.map { manifest in
            let value: JSONValue
            do {
                // No timestamp rule: `date: 2024-01-01` stays the string it is to kubectl (YAML 1.1 bools and numbers as there).
                value = JSONValue(any: try Yams.load(yaml: manifest.yaml, Self.resolver))
            } catch {
                throw SyncError(code: .render, message: "\(manifest.source): not valid YAML", sourceError: .init(file: manifest.file, line: manifest.line, message: "not valid YAML"))
            }
            guard case .object = value else {
                throw SyncError(code: .render, message: "\(manifest.source): a manifest is a mapping", sourceError: .init(file: manifest.file, line: manifest.line, message: "a manifest is a mapping"))
            }
            return (manifest, value)
        }
    }

    /// Whether a kind is namespaced: from discovery, or from a CRD in the same set (not served yet).
    enum Scope: Sendable {
        case namespaced
        case cluster
    }

    /// The objects to apply: a namespaced object without a namespace gets the destination's; a
    /// cluster-scoped one loses any namespace it names; every object gets the tracking annotation.
    ///
    /// - Parameter scopes: by `apiVersion kind`; a kind missing there is served by nobody.
    /// - Throws: `SyncError` naming the manifest (file and line) for an unknown kind or a
    ///   namespaced object with no namespace to go to.
    ///   - overrideNamespace: every namespaced object goes to `destination`, as kustomize's namespace
    ///     transformer (Flux's `targetNamespace`) does, with the `default` ServiceAccount subjects of
    ///     RoleBindings and ClusterRoleBindings.
    static func prepare(
        _ parsed: [(Manifest, JSONValue)], app: String, namespace destination: String?, overrideNamespace: Bool = false, scopes: [String: Scope]
    ) throws -> [DesiredObject] {
        var result: [DesiredObject] = []
        var seen: [String: String] = [:]
        for (manifest, value) in parsed {
            var object = value
            guard let scope = scopes["\(manifest.apiVersion) \(manifest.kind)"] else {
                throw SyncError(
                    code: .target, message: "\(manifest.source): the cluster does not serve kind \(manifest.kind) in \(manifest.apiVersion) (and no CRD in this app defines it)",
                    sourceError: .init(file: manifest.file, line: manifest.line, message: "unknown kind \(manifest.kind) in \(manifest.apiVersion)")
                )
            }
            var metadata = object["metadata"]?.object ?? [:]
            switch scope {
            case .cluster:
                metadata["namespace"] = nil
            case .namespaced where overrideNamespace && destination != nil:
                metadata["namespace"] = .string(destination!)
            case .namespaced where (metadata["namespace"]?.string ?? "").isEmpty:
                guard let destination else {
                    throw SyncError(
                        code: .target, message: "\(manifest.source): \(manifest.kind) \(manifest.name) is namespaced, names no namespace, and the destination gives none",
                        sourceError: .init(file: manifest.file, line: manifest.line, message: "no namespace")
                    )
                }
                metadata["namespace"] = .string(destination)
            case .namespaced:
                break
            }
            object["metadata"] = .object(metadata)
            if overrideNamespace, let destination, manifest.group == "rbac.authorization.k8s.io", ["RoleBinding", "ClusterRoleBinding"].contains(manifest.kind),
                case .array(var subjects)? = object["subjects"]
            {
                // kustomize's default (`setRoleBindingSubjects: defaultOnly`): the `default` ServiceAccount moves with the objects.
                for index in subjects.indices where subjects[index]["kind"]?.string == "ServiceAccount" && subjects[index]["name"]?.string == "default" {
                    subjects[index]["namespace"] = .string(destination)
                }
                object["subjects"] = .array(subjects)
            }
            guard let reference = ObjectReference(of: object) else {
                throw SyncError(code: .render, message: "\(manifest.source): no metadata.name", sourceError: .init(file: manifest.file, line: manifest.line, message: "no metadata.name"))
            }
            if let first = seen[reference.identity] {
                throw SyncError(code: .render, message: "\(manifest.source): \(reference) is also declared at \(first)", sourceError: .init(file: manifest.file, line: manifest.line, message: "duplicate of \(first)"))
            }
            seen[reference.identity] = manifest.source
            var annotations = metadata["annotations"]?.object ?? [:]
            annotations[trackingAnnotation] = .string(self.trackingID(app: app, reference))
            metadata["annotations"] = .object(annotations)
            object["metadata"] = .object(metadata)
            result.append(DesiredObject(reference: reference, object: object, wave: manifest.syncWave, source: manifest.source))
        }
        return result
    }

    /// The kinds CRDs among the manifests define, with their scope: usable before discovery
    /// serves them.
    static func definedKinds(_ parsed: [(Manifest, JSONValue)]) -> [String: Scope] {
        var kinds: [String: Scope] = [:]
        for (manifest, value) in parsed where manifest.kind == "CustomResourceDefinition" && manifest.group == "apiextensions.k8s.io" {
            guard let group = value[path: "spec.group"]?.string, let kind = value[path: "spec.names.kind"]?.string else { continue }
            let scope: Scope = value[path: "spec.scope"]?.string == "Cluster" ? .cluster : .namespaced
            for version in value[path: "spec.versions"]?.array ?? [] {
                if let name = version["name"]?.string { kinds["\(group)/\(name) \(kind)"] = scope }
            }
        }
        return kinds
    }

    /// Apply order, as batches: Namespaces and CRDs first, then each sync wave in ascending order,
    /// and within a wave by kind (gitops-engine's order: ServiceAccounts and ConfigMaps before the
    /// Deployments that use them). Objects of one batch are applied together.
    static func batches(_ objects: [DesiredObject]) -> [(wave: Int?, objects: [DesiredObject])] {
        func isFoundation(_ object: DesiredObject) -> Bool {
            (object.reference.kind == "Namespace" && object.reference.group.isEmpty)
                || (object.reference.kind == "CustomResourceDefinition" && object.reference.group == "apiextensions.k8s.io")
        }
        let foundation = objects.filter(isFoundation).sorted { ($0.reference.kind == "Namespace" ? 0 : 1, $0.reference) < ($1.reference.kind == "Namespace" ? 0 : 1, $1.reference) }
        var batches: [(wave: Int?, objects: [DesiredObject])] = []
        if !foundation.isEmpty { batches.append((nil, foundation)) }
        let rest = Dictionary(grouping: objects.filter { !isFoundation($0) }) { $0.wave }
        for wave in rest.keys.sorted() {
            let byKind = Dictionary(grouping: rest[wave]!) { self.kindRank($0.reference.kind) }
            for rank in byKind.keys.sorted() {
                batches.append((wave, byKind[rank]!.sorted { $0.reference < $1.reference }))
            }
        }
        return batches
    }

    private static let kindOrder = [
        "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount",
        "Secret", "ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition",
        "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "DaemonSet", "Pod", "ReplicationController",
        "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
    ]

    static func kindRank(_ kind: String) -> Int {
        self.kindOrder.firstIndex(of: kind) ?? self.kindOrder.count
    }

    /// What becomes of an object of the previous inventory that is no longer rendered.
    enum PruneAction: Hashable, Sendable {
        /// Delete it.
        case delete
        /// Keep it, still owned: prune is off, or it is annotated `Prune=false`.
        case keep(String)
        /// It is gone already.
        case gone
        /// Another app (or nobody) owns it now: leave it alone and drop it from the inventory.
        case release(String)
    }

    static func pruneAction(for live: JSONValue?, app: String, prune: Bool) -> PruneAction {
        guard let live else { return .gone }
        guard let owner = self.trackingApp(of: live) else { return .release("it no longer carries \(app)'s tracking annotation") }
        guard owner == app else { return .release("its tracking annotation names app \(owner)") }
        let annotations = live[path: "metadata.annotations"]?.object ?? [:]
        // Prune=confirm waits for a person in Argo CD; Tributary has no one to ask, so it keeps the object.
        let optedOut = self.syncOptionsAnnotations.lazy.compactMap { key in
            (annotations[key]?.string ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.first { $0 == "Prune=false" || $0 == "Prune=confirm" }
        }.first
        if let optedOut { return .keep("annotated \(optedOut)") }
        return prune ? .delete : .keep("prune is off")
    }

    /// The previous inventory's objects that are no longer rendered. By identity, not version: an
    /// object whose manifest moved to a new apiVersion is the same object, not one to prune.
    static func stale(_ previous: [ObjectReference], rendered: [ObjectReference]) -> [ObjectReference] {
        let identities = Set(rendered.map(\.identity))
        return previous.filter { !identities.contains($0.identity) }
    }

    /// The inventory written before applying: the previous objects and the rendered ones, one entry
    /// per object, at its rendered apiVersion.
    static func union(_ previous: [ObjectReference], _ rendered: [ObjectReference]) -> Set<ObjectReference> {
        Set(rendered).union(self.stale(previous, rendered: rendered))
    }

    enum ApplyResult: Hashable, Sendable {
        case created, updated, unchanged
    }

    /// What an apply did, from the dry-run just before it and its answer: a dry-run of a create
    /// answers without a resourceVersion; an apply that changes nothing keeps the object's.
    static func applyOutcome(dryRun: JSONValue, applied: JSONValue) -> ApplyResult {
        let version = dryRun[path: "metadata.resourceVersion"]?.string ?? ""
        if version.isEmpty { return .created }
        return version == applied[path: "metadata.resourceVersion"]?.string ? .unchanged : .updated
    }

    /// The drifted field paths of one object: where the live object differs from what applying
    /// the rendered one would make of it, less the app's `ignoreDifferences`.
    static func driftedFields(live: JSONValue, applied: JSONValue, reference: ObjectReference, ignoring rules: [AppSettings.IgnoreDifference]) -> [String] {
        let paths = FieldDiff.paths(from: live, to: applied)
        let ignored = Set(self.ignoredPaths(paths, reference: reference, rules: rules, in: live))
        return paths.filter { !ignored.contains($0) }
    }

    /// Which of `paths` the rules that match the object cover (a rule covers the fields under its pointers).
    static func ignoredPaths(_ paths: [String], reference: ObjectReference, rules: [AppSettings.IgnoreDifference], in live: JSONValue? = nil) -> [String] {
        let pointers = rules.filter { rule in
            (rule.group ?? reference.group) == reference.group && (rule.kind ?? reference.kind) == reference.kind && (rule.name ?? reference.name) == reference.name
                && (rule.namespace ?? reference.namespace) == reference.namespace
        }.flatMap { $0.jsonPointers.map { self.fieldPath(pointer: $0, in: live) } }
        return paths.filter { path in pointers.contains { path == $0 || path.hasPrefix($0 + ".") || path.hasPrefix($0 + "[") } }
    }

    /// `/spec/template/metadata/annotations/a~1b` → `.spec.template.metadata.annotations.a/b`.
    /// An index into a list of named items (`/spec/containers/0`) becomes the item's name, as
    /// `FieldDiff` names it (`.spec.containers[name=web]`), looked up in `object`.
    static func fieldPath(pointer: String, in object: JSONValue? = nil) -> String {
        var current = object
        return pointer.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { segment in
            let key = segment.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if let index = Int(key), case .array(let items)? = current {
                current = items.indices.contains(index) ? items[index] : nil
                if items.allSatisfy({ $0["name"]?.string != nil }), let name = current?["name"]?.string { return "[name=\(name)]" }
                return "[\(key)]"
            }
            if let index = Int(key), current == nil || current?.object == nil { return "[\(index)]" }
            current = current?[key]
            return ".\(key)"
        }.joined()
    }
}
