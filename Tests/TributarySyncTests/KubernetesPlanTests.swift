import Foundation
import Testing
import TributaryCore
import TributaryKubernetes
import TributaryRender
@testable import TributarySync

@Suite("Kubernetes sync decisions")
struct KubernetesPlanTests {
    static func manifest(_ yaml: String, file: String = "app/x.yaml", line: Int = 1) throws -> Manifest {
        let rendered = try ManifestRenderer.render(directory: "", files: [SourceFile(path: file, contents: Array(yaml.utf8))], options: RenderOptions(recurse: true))
        var manifest = try #require(rendered.first)
        manifest.line = line
        return manifest
    }

    static let scopes: [String: KubernetesPlan.Scope] = [
        "v1 ConfigMap": .namespaced, "v1 Namespace": .cluster, "apps/v1 Deployment": .namespaced,
        "apiextensions.k8s.io/v1 CustomResourceDefinition": .cluster, "rbac.authorization.k8s.io/v1 ClusterRole": .cluster,
    ]

    @Test func namespacedObjectsGetTheDestinationsNamespaceAndEveryObjectItsTrackingID() throws {
        let parsed = try KubernetesPlan.parse([
            try Self.manifest("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"),
            try Self.manifest("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: other\n"),
            try Self.manifest("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\n  namespace: ignored\n"),
        ])
        let objects = try KubernetesPlan.prepare(parsed, app: "web", namespace: "team", scopes: Self.scopes)
        #expect(objects.map(\.reference.namespace) == ["team", "other", ""])
        #expect(objects[0].object[path: "metadata.annotations"]?[KubernetesPlan.trackingAnnotation] == "web:/ConfigMap:team/a")
        #expect(objects[2].object[path: "metadata.annotations"]?[KubernetesPlan.trackingAnnotation] == "web:rbac.authorization.k8s.io/ClusterRole:/reader")
        #expect(objects[2].object[path: "metadata.namespace"] == nil)
    }

    @Test func anOverriddenNamespaceMovesEveryNamespacedObjectAndTheDefaultServiceAccount() throws {
        let scopes = Self.scopes.merging(["rbac.authorization.k8s.io/v1 RoleBinding": .namespaced]) { first, _ in first }
        let parsed = try KubernetesPlan.parse([
            try Self.manifest("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: elsewhere\n"),
            try Self.manifest("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\n"),
            try Self.manifest(
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: read\n  namespace: elsewhere\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}\nsubjects:\n  - {kind: ServiceAccount, name: default, namespace: elsewhere}\n  - {kind: ServiceAccount, name: ci, namespace: tools}\n"
            ),
        ])
        let kept = try KubernetesPlan.prepare(parsed, app: "web", namespace: "team", scopes: scopes)
        #expect(kept.map(\.reference.namespace) == ["elsewhere", "", "elsewhere"])
        let moved = try KubernetesPlan.prepare(parsed, app: "web", namespace: "team", overrideNamespace: true, scopes: scopes)
        #expect(moved.map(\.reference.namespace) == ["team", "", "team"])
        let subjects = moved[2].object["subjects"]?.array ?? []
        #expect(subjects.map { $0["namespace"]?.string } == ["team", "tools"])
    }

    @Test func unknownKindsAndMissingNamespacesNameTheManifest() throws {
        let unknown = try KubernetesPlan.parse([try Self.manifest("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n", file: "app/w.yaml", line: 7)])
        let error = #expect(throws: SyncError.self) { try KubernetesPlan.prepare(unknown, app: "web", namespace: "team", scopes: Self.scopes) }
        #expect(error?.message == "app/w.yaml:7: the cluster does not serve kind Widget in example.com/v1 (and no CRD in this app defines it)")
        #expect(error?.sourceError == .init(file: "app/w.yaml", line: 7, message: "unknown kind Widget in example.com/v1"))
        let homeless = try KubernetesPlan.parse([try Self.manifest("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")])
        let noNamespace = #expect(throws: SyncError.self) { try KubernetesPlan.prepare(homeless, app: "web", namespace: nil, scopes: Self.scopes) }
        #expect(noNamespace?.message.contains("is namespaced, names no namespace, and the destination gives none") == true)
        let twice = try KubernetesPlan.parse([
            try Self.manifest("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n", file: "one.yaml"),
            try Self.manifest("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: team\n", file: "two.yaml"),
        ])
        let duplicate = #expect(throws: SyncError.self) { try KubernetesPlan.prepare(twice, app: "web", namespace: "team", scopes: Self.scopes) }
        #expect(duplicate?.message == "two.yaml:1: ConfigMap team/a is also declared at one.yaml:1")
    }

    @Test func aCRDInTheSameSetMakesItsKindKnown() throws {
        let parsed = try KubernetesPlan.parse([
            try Self.manifest(
                "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  scope: Namespaced\n  names: { kind: Widget, plural: widgets }\n  versions: [{ name: v1, served: true, storage: true }]\n"
            ),
            try Self.manifest("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"),
        ])
        let defined = KubernetesPlan.definedKinds(parsed)
        #expect(defined.keys.sorted() == ["example.com/v1 Widget"])
        let objects = try KubernetesPlan.prepare(parsed, app: "web", namespace: "team", scopes: Self.scopes.merging(defined) { $1 })
        #expect(objects[1].reference.namespace == "team")
    }

    @Test func namespacesAndCRDsFirstThenWavesThenKindOrder() throws {
        func object(_ kind: String, _ name: String, wave: Int = 0, apiVersion: String = "v1") -> DesiredObject {
            DesiredObject(reference: .init(apiVersion: apiVersion, kind: kind, namespace: kind == "Namespace" ? "" : "team", name: name), object: .null, wave: wave, source: "x")
        }
        let batches = KubernetesPlan.batches([
            object("Deployment", "web", apiVersion: "apps/v1"), object("ConfigMap", "late", wave: 2), object("Namespace", "team", wave: 5),
            object("ServiceAccount", "web"), object("CustomResourceDefinition", "w.example.com", apiVersion: "apiextensions.k8s.io/v1"),
            object("ConfigMap", "early", wave: -1), object("Widget", "w", apiVersion: "example.com/v1"),
        ])
        #expect(batches.map(\.wave) == [nil, -1, 0, 0, 0, 2])
        #expect(batches.map { $0.objects.map(\.reference.name) } == [["team", "w.example.com"], ["early"], ["web"], ["web"], ["w"], ["late"]])
        #expect(batches[2].objects[0].reference.kind == "ServiceAccount")
    }

    @Test func pruneDeletesOnlyWhatStillCarriesTheAppsOwnTrackingID() throws {
        func live(_ annotations: [String: String]) -> JSONValue {
            .object([
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": .object(["name": "a", "namespace": "team", "annotations": .object(annotations.mapValues { .string($0) })]),
            ])
        }
        let own = ["tributary.dev/tracking-id": "web:/ConfigMap:team/a"]
        #expect(KubernetesPlan.pruneAction(for: live(own), app: "web", prune: true) == .delete)
        #expect(KubernetesPlan.pruneAction(for: live(own), app: "web", prune: false) == .keep("prune is off"))
        #expect(KubernetesPlan.pruneAction(for: nil, app: "web", prune: true) == .gone)
        #expect(KubernetesPlan.pruneAction(for: live(["tributary.dev/tracking-id": "other:/ConfigMap:team/a"]), app: "web", prune: true) == .release("its tracking annotation names app other"))
        // Copied from another object: it does not describe this one.
        #expect(KubernetesPlan.pruneAction(for: live(["tributary.dev/tracking-id": "web:/ConfigMap:team/b"]), app: "web", prune: true) == .release("it no longer carries web's tracking annotation"))
        for key in ["argocd.argoproj.io/sync-options", "tributary.dev/sync-options"] {
            #expect(KubernetesPlan.pruneAction(for: live(own.merging([key: "ServerSideApply=true, Prune=false"]) { $1 }), app: "web", prune: true) == .keep("annotated Prune=false"))
            #expect(KubernetesPlan.pruneAction(for: live(own.merging([key: "Prune=confirm"]) { $1 }), app: "web", prune: true) == .keep("annotated Prune=confirm"))
        }
    }

    @Test func ignoreDifferencesRemovesFieldsUnderItsPointersForMatchingObjectsOnly() throws {
        let live = try JSONValue(json: Array(#"{"spec":{"replicas":5,"template":{"metadata":{"annotations":{"a/b":"1"}}}}}"#.utf8))
        let applied = try JSONValue(json: Array(#"{"spec":{"replicas":2,"template":{"metadata":{"annotations":{"a/b":"2"}}}}}"#.utf8))
        let web = ObjectReference(apiVersion: "apps/v1", kind: "Deployment", namespace: "team", name: "web")
        let rules = [AppSettings.IgnoreDifference(group: "apps", kind: "Deployment", name: nil, namespace: nil, jsonPointers: ["/spec/replicas"])]
        #expect(KubernetesPlan.driftedFields(live: live, applied: applied, reference: web, ignoring: rules) == [".spec.template.metadata.annotations.a/b"])
        let other = ObjectReference(apiVersion: "apps/v1", kind: "StatefulSet", namespace: "team", name: "web")
        #expect(KubernetesPlan.driftedFields(live: live, applied: applied, reference: other, ignoring: rules).count == 2)
        // Flux's driftIgnoreRules without a target apply to every object.
        let everywhere = [AppSettings.IgnoreDifference(group: nil, kind: nil, jsonPointers: ["/spec/template"])]
        #expect(KubernetesPlan.driftedFields(live: live, applied: applied, reference: other, ignoring: everywhere) == [".spec.replicas"])
        #expect(KubernetesPlan.fieldPath(pointer: "/spec/template/metadata/annotations/a~1b") == ".spec.template.metadata.annotations.a/b")
        #expect(KubernetesPlan.fieldPath(pointer: "/spec/containers/0/image") == ".spec.containers[0].image")
    }

    @Test func anObjectWhoseManifestMovesToANewAPIVersionIsTheSameObjectNotOneToPrune() {
        let old = ObjectReference(apiVersion: "autoscaling/v2beta2", kind: "HorizontalPodAutoscaler", namespace: "team", name: "web")
        let new = ObjectReference(apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", namespace: "team", name: "web")
        let gone = ObjectReference(apiVersion: "v1", kind: "ConfigMap", namespace: "team", name: "old")
        #expect(KubernetesPlan.stale([old, gone], rendered: [new]) == [gone])
        #expect(KubernetesPlan.union([old, gone], [new]) == [new, gone])
    }

    @Test func countsTellCreatedFromUpdatedFromUnchanged() throws {
        func object(_ version: String?) -> JSONValue { .object(["metadata": .object(version.map { ["resourceVersion": .string($0)] } ?? [:])]) }
        #expect(KubernetesPlan.applyOutcome(dryRun: object(nil), applied: object("5")) == .created)
        #expect(KubernetesPlan.applyOutcome(dryRun: object("4"), applied: object("4")) == .unchanged)
        #expect(KubernetesPlan.applyOutcome(dryRun: object("4"), applied: object("5")) == .updated)
    }

    @Test func anIndexPointerIntoANamedListNamesTheItem() throws {
        let live = try JSONValue(json: Array(#"{"spec":{"containers":[{"name":"web","image":"a"}],"args":["x"]}}"#.utf8))
        #expect(KubernetesPlan.fieldPath(pointer: "/spec/containers/0/image", in: live) == ".spec.containers[name=web].image")
        #expect(KubernetesPlan.fieldPath(pointer: "/spec/args/0", in: live) == ".spec.args[0]")
        #expect(KubernetesPlan.fieldPath(pointer: "/spec/containers/3/image", in: live) == ".spec.containers[3].image")
    }
}
