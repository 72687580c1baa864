import Foundation
import Testing
import TributaryCore
import TributaryKubernetes
import TributaryRender
@testable import TributarySync

@Suite("Sync hook decisions")
struct KubernetesHookPlanTests {
    static let scopes: [String: KubernetesPlan.Scope] = ["v1 ConfigMap": .namespaced, "batch/v1 Job": .namespaced, "v1 Pod": .namespaced]

    static func objects(_ documents: [String]) throws -> [DesiredObject] {
        let manifests = try documents.enumerated().map { index, yaml in
            try #require(try ManifestRenderer.render(directory: "", files: [SourceFile(path: "app/\(index).yaml", contents: Array(yaml.utf8))], options: .init(recurse: true)).first)
        }
        return try KubernetesPlan.prepare(try KubernetesPlan.parse(manifests), app: "web", namespace: "team", scopes: Self.scopes)
    }

    static func job(_ name: String, _ annotations: String) -> String {
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: \(name)\n  annotations: {\(annotations)}\n"
    }

    @Test func hooksAreSplitFromResourcesWithTheirPhasesAndPolicies() throws {
        let objects = try Self.objects([
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n",
            Self.job("migrate", "argocd.argoproj.io/hook: PreSync, argocd.argoproj.io/sync-wave: '-1'"),
            Self.job("smoke", "argocd.argoproj.io/hook: 'PostSync,SyncFail', argocd.argoproj.io/hook-delete-policy: 'HookSucceeded, HookFailed'"),
            Self.job("skipped", "argocd.argoproj.io/hook: Skip"),
            Self.job("cleanup", "argocd.argoproj.io/hook: PostDelete"),
            Self.job("helm-pre", "helm.sh/hook: 'pre-install,pre-upgrade', helm.sh/hook-weight: '5', helm.sh/hook-delete-policy: hook-succeeded"),
            Self.job("helm-test", "helm.sh/hook: test"),
            Self.job("crds", "helm.sh/hook: crd-install"),
        ])
        let (resources, hooks) = try KubernetesPlan.splitHooks(objects)
        #expect(resources.map(\.reference.name) == ["settings", "crds"])  // Helm 2's crd-install is an ordinary object
        #expect(hooks.map(\.object.reference.name) == ["migrate", "smoke", "helm-pre"])
        #expect(hooks[0].phases == [.preSync] && hooks[0].deletePolicies == [.beforeHookCreation])  // Argo CD's default policy
        #expect(hooks[1].phases == [.postSync, .syncFail] && hooks[1].deletePolicies == [.hookSucceeded, .hookFailed])
        #expect(hooks[2].phases == [.preSync] && hooks[2].deletePolicies == [.hookSucceeded] && hooks[2].object.wave == 5)
        // PreSync runs wave by wave: the Argo CD hook (wave -1) before the Helm one (weight 5).
        #expect(KubernetesPlan.hookWaves(hooks, phase: .preSync).map { $0.map(\.object.reference.name) } == [["migrate"], ["helm-pre"]])
        #expect(KubernetesPlan.hookWaves(hooks, phase: .sync).isEmpty)
    }

    @Test func anUnknownHookOrPolicyNamesTheManifest() throws {
        let typo = try Self.objects([Self.job("migrate", "argocd.argoproj.io/hook: Presync")])
        let error = #expect(throws: SyncError.self) { try KubernetesPlan.splitHooks(typo) }
        #expect(error?.message.hasPrefix("app/0.yaml:1: unknown hook Presync") == true, "\(error?.message ?? "")")
        let policy = try Self.objects([Self.job("migrate", "argocd.argoproj.io/hook: PreSync, argocd.argoproj.io/hook-delete-policy: Always")])
        #expect(throws: SyncError.self) { try KubernetesPlan.splitHooks(policy) }
    }

    @Test func aHookIsDoneByItsKindsOwnSignal() {
        func job(_ conditions: String) -> JSONValue {
            JSONValue(any: try! JSONSerialization.jsonObject(with: Data(#"{"apiVersion":"batch/v1","kind":"Job","status":{"conditions":\#(conditions)}}"#.utf8)))
        }
        #expect(KubernetesPlan.hookStatus(job("[]")) == .running)
        #expect(KubernetesPlan.hookStatus(job(#"[{"type":"Complete","status":"True"}]"#)) == .succeeded)
        #expect(KubernetesPlan.hookStatus(job(#"[{"type":"Failed","status":"True","reason":"BackoffLimitExceeded","message":"Job has reached the specified backoff limit"}]"#)) == .failed("Job has reached the specified backoff limit"))
        #expect(KubernetesPlan.hookStatus(job(#"[{"type":"Complete","status":"False"}]"#)) == .running)
        let pod = JSONValue.object(["apiVersion": "v1", "kind": "Pod", "status": .object(["phase": "Failed", "reason": "Error"])])
        #expect(KubernetesPlan.hookStatus(pod) == .failed("Error"))
        let configMap = JSONValue.object(["apiVersion": "v1", "kind": "ConfigMap", "metadata": .object(["name": "x"])])
        #expect(KubernetesPlan.hookStatus(configMap) == .succeeded)
        #expect(KubernetesPlan.hookStatus(nil) == .failed("it was deleted before it finished"))
    }
}
