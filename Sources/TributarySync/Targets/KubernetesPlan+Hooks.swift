import TributaryKubernetes
import TributaryRender

/// An Argo CD resource hook (`argocd.argoproj.io/hook`), or a Helm hook as Argo CD maps it: an
/// object applied in its phase and waited for, never part of the app's inventory (so never pruned).
struct SyncHook: Sendable {
    enum Phase: String, Sendable, CaseIterable {
        case preSync = "PreSync"
        case sync = "Sync"
        case postSync = "PostSync"
        case syncFail = "SyncFail"
    }

    enum DeletePolicy: String, Sendable {
        /// Delete the previous object before applying the hook again (the default).
        case beforeHookCreation = "BeforeHookCreation"
        case hookSucceeded = "HookSucceeded"
        case hookFailed = "HookFailed"
    }

    var object: DesiredObject
    var phases: Set<Phase>
    var deletePolicies: Set<DeletePolicy>
}

/// Where a running hook is.
enum HookStatus: Equatable, Sendable {
    case running
    case succeeded
    case failed(String)
}

extension KubernetesPlan {
    static let hookAnnotation = "argocd.argoproj.io/hook"
    static let hookDeletePolicyAnnotation = "argocd.argoproj.io/hook-delete-policy"

    /// Helm's hooks as Argo CD runs them: install/upgrade hooks in PreSync and PostSync; test,
    /// delete and rollback hooks are not applied at all (a sync neither tests, deletes nor rolls back);
    /// `crd-install` objects are ordinary ones.
    static let helmHookPhases: [String: SyncHook.Phase?] = [
        "pre-install": .preSync, "pre-upgrade": .preSync, "post-install": .postSync, "post-upgrade": .postSync,
        "test": nil, "test-success": nil, "test-failure": nil, "pre-delete": nil, "post-delete": nil,
        "pre-rollback": nil, "post-rollback": nil,
    ]
    static let helmDeletePolicies: [String: SyncHook.DeletePolicy] = [
        "before-hook-creation": .beforeHookCreation, "hook-succeeded": .hookSucceeded, "hook-failed": .hookFailed,
    ]

    /// The app's resources and its hooks. `Skip` hooks (and Argo CD's PreDelete/PostDelete, which
    /// run when an app is deleted — Tributary never deletes one) are in neither.
    ///
    /// - Throws: `SyncError` naming the manifest for an unknown hook or delete policy.
    static func splitHooks(_ objects: [DesiredObject]) throws -> (resources: [DesiredObject], hooks: [SyncHook]) {
        var resources: [DesiredObject] = []
        var hooks: [SyncHook] = []
        for var object in objects {
            let annotations = object.object[path: "metadata.annotations"]?.object ?? [:]
            func words(_ key: String) -> [String] {
                (annotations[key]?.string ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
            func refuse(_ message: String) -> SyncError {
                SyncError(code: .render, message: "\(object.source): \(message) (\(object.reference))")
            }
            var phases: Set<SyncHook.Phase> = []
            var policies: Set<SyncHook.DeletePolicy> = []
            var isHook = false
            if annotations[Self.hookAnnotation] != nil {
                isHook = true
                for word in words(Self.hookAnnotation) {
                    if let phase = SyncHook.Phase(rawValue: word) {
                        phases.insert(phase)
                    } else if !["Skip", "PreDelete", "PostDelete"].contains(word) {
                        throw refuse("unknown hook \(word) in \(Self.hookAnnotation); hooks are PreSync, Sync, PostSync, SyncFail and Skip")
                    }
                }
                for word in words(Self.hookDeletePolicyAnnotation) {
                    guard let policy = SyncHook.DeletePolicy(rawValue: word) else {
                        throw refuse("unknown delete policy \(word) in \(Self.hookDeletePolicyAnnotation); policies are BeforeHookCreation, HookSucceeded and HookFailed")
                    }
                    policies.insert(policy)
                }
            } else if annotations["helm.sh/hook"] != nil, annotations["helm.sh/hook"]?.string != "crd-install" {
                // Helm 2's crd-install is an ordinary object to Argo CD (its CRDs must be applied).
                isHook = true
                for word in words("helm.sh/hook") {
                    guard let phase = Self.helmHookPhases[word] else { throw refuse("unknown Helm hook \(word)") }
                    if let phase { phases.insert(phase) }
                }
                for word in words("helm.sh/hook-delete-policy") {
                    guard let policy = Self.helmDeletePolicies[word] else { throw refuse("unknown Helm hook delete policy \(word)") }
                    policies.insert(policy)
                }
                // A Helm hook's weight orders it when no sync wave does.
                if !ManifestRenderer.syncWaveAnnotations.contains(where: { annotations[$0] != nil }), let weight = annotations["helm.sh/hook-weight"]?.string {
                    object.wave = Int(weight.trimmingCharacters(in: .whitespaces)) ?? object.wave
                }
            }
            guard isHook else {
                resources.append(object)
                continue
            }
            if phases.isEmpty { continue }
            hooks.append(SyncHook(object: object, phases: phases, deletePolicies: policies.isEmpty ? [.beforeHookCreation] : policies))
        }
        return (resources, hooks)
    }

    /// The hooks of `phase`, as batches run one after another: by wave, each wave's hooks together.
    static func hookWaves(_ hooks: [SyncHook], phase: SyncHook.Phase) -> [[SyncHook]] {
        let inPhase = hooks.filter { $0.phases.contains(phase) }
        return Dictionary(grouping: inPhase, by: \.object.wave).sorted { $0.key < $1.key }.map { _, hooks in
            hooks.sorted { (Self.kindRank($0.object.reference.kind), $0.object.reference.identity) < (Self.kindRank($1.object.reference.kind), $1.object.reference.identity) }
        }
    }

    /// Whether a hook has finished: a Job by its Complete or Failed condition, a Pod by its phase,
    /// an Argo Workflow by its phase, anything else by its health.
    static func hookStatus(_ live: JSONValue?) -> HookStatus {
        guard let live else { return .failed("it was deleted before it finished") }
        let kind = live["kind"]?.string ?? ""
        let group = (live["apiVersion"]?.string ?? "").split(separator: "/").dropLast().joined(separator: "/")
        switch (group, kind) {
        case ("batch", "Job"):
            for condition in live[path: "status.conditions"]?.array ?? [] where condition["status"]?.string == "True" {
                switch condition["type"]?.string {
                case "Complete": return .succeeded
                case "Failed": return .failed(condition["message"]?.string ?? condition["reason"]?.string ?? "the job failed")
                default: continue
                }
            }
            return .running
        case ("", "Pod"):
            switch live[path: "status.phase"]?.string {
            case "Succeeded": return .succeeded
            case "Failed": return .failed(live[path: "status.message"]?.string ?? live[path: "status.reason"]?.string ?? "the pod failed")
            default: return .running
            }
        case ("argoproj.io", "Workflow"):
            switch live[path: "status.phase"]?.string {
            case "Succeeded": return .succeeded
            case "Failed", "Error": return .failed(live[path: "status.message"]?.string ?? "the workflow failed")
            default: return .running
            }
        default:
            let assessment = Health.assess(live)
            switch assessment.status {
            case .healthy: return .succeeded
            case .degraded: return .failed(assessment.message ?? "it is Degraded")
            default: return .running
            }
        }
    }
}
