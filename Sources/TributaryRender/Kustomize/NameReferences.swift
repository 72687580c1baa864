/// Kustomize's name-reference fixing, run once at the top after prefixes, suffixes and hashes:
/// a field naming a ConfigMap, Secret, ServiceAccount, Service, ... by any name that resource has
/// had is rewritten to its final name. Namespaced referrals must share the referrer's namespace.
enum NameReferences {
    private struct Reference {
        var referralKind: String
        var referralGroup: String
        var referrerKinds: Set<String>
        var path: [String]
    }

    private static let podSpecPrefixes: [String: String] = [
        "Pod": "spec", "PodTemplate": "template/spec", "Deployment": "spec/template/spec", "ReplicaSet": "spec/template/spec",
        "DaemonSet": "spec/template/spec", "StatefulSet": "spec/template/spec", "Job": "spec/template/spec",
        "ReplicationController": "spec/template/spec", "CronJob": "spec/jobTemplate/spec/template/spec",
    ]

    private static let podSpecReferences: [(kind: String, group: String, paths: [String])] = [
        ("ConfigMap", "", [
            "volumes/configMap/name", "containers/env/valueFrom/configMapKeyRef/name", "initContainers/env/valueFrom/configMapKeyRef/name",
            "containers/envFrom/configMapRef/name", "initContainers/envFrom/configMapRef/name", "volumes/projected/sources/configMap/name",
        ]),
        ("Secret", "", [
            "volumes/secret/secretName", "containers/env/valueFrom/secretKeyRef/name", "initContainers/env/valueFrom/secretKeyRef/name",
            "containers/envFrom/secretRef/name", "initContainers/envFrom/secretRef/name", "imagePullSecrets/name",
            "volumes/projected/sources/secret/name",
        ]),
        ("ServiceAccount", "", ["serviceAccountName"]),
        ("PersistentVolumeClaim", "", ["volumes/persistentVolumeClaim/claimName"]),
        ("PriorityClass", "scheduling.k8s.io", ["priorityClassName"]),
    ]

    private static let otherReferences: [(kind: String, group: String, referrer: String, path: String)] = [
        ("Secret", "", "Ingress", "spec/tls/secretName"),
        ("Secret", "", "ServiceAccount", "imagePullSecrets/name"),
        ("Service", "", "StatefulSet", "spec/serviceName"),
        ("Service", "", "Ingress", "spec/rules/http/paths/backend/service/name"),
        ("Service", "", "Ingress", "spec/defaultBackend/service/name"),
        ("Service", "", "Ingress", "spec/rules/http/paths/backend/serviceName"),
        ("Service", "", "Ingress", "spec/backend/serviceName"),
        ("Service", "", "APIService", "spec/service/name"),
        ("Service", "", "HTTPRoute", "spec/rules/backendRefs/name"),
        ("PersistentVolume", "", "PersistentVolumeClaim", "spec/volumeName"),
        ("StorageClass", "storage.k8s.io", "PersistentVolume", "spec/storageClassName"),
        ("StorageClass", "storage.k8s.io", "PersistentVolumeClaim", "spec/storageClassName"),
        ("StorageClass", "storage.k8s.io", "StatefulSet", "spec/volumeClaimTemplates/spec/storageClassName"),
        ("IngressClass", "networking.k8s.io", "Ingress", "spec/ingressClassName"),
    ]

    private static let references: [Reference] = {
        var references: [Reference] = []
        for (referrer, prefix) in Self.podSpecPrefixes {
            for (kind, group, paths) in Self.podSpecReferences {
                for path in paths {
                    references.append(Reference(referralKind: kind, referralGroup: group, referrerKinds: [referrer], path: (prefix + "/" + path).split(separator: "/").map(String.init)))
                }
            }
        }
        for (kind, group, referrer, path) in Self.otherReferences {
            references.append(Reference(referralKind: kind, referralGroup: group, referrerKinds: [referrer], path: path.split(separator: "/").map(String.init)))
        }
        return references
    }()

    /// Rewrites references to renamed resources.
    ///
    /// - Throws: `RenderError` at the referrer when a name could mean two resources that were renamed differently.
    static func fix(_ resources: inout [KustomizeResource]) throws {
        var renamed: [String: [Int]] = [:]
        for index in resources.indices where resources[index].wasRenamed { renamed[resources[index].kind, default: []].append(index) }
        guard !renamed.isEmpty else { return }
        let referrals = resources

        func newName(_ name: String, kind: String, group: String?, namespace: String?, referrer: KustomizeResource) throws -> KustomizeResource? {
            guard let candidates = renamed[kind] else { return nil }
            var matches = candidates.map { referrals[$0] }.filter { ($0.group == group || group == nil) && $0.hadName(name) }
            if let namespace, !KustomizeResource.clusterScopedKinds.contains(kind) {
                matches = matches.filter { $0.hadNamespace(namespace) }
            }
            guard let first = matches.first else { return nil }
            guard matches.allSatisfy({ $0.name == first.name && $0.namespace == first.namespace }) else {
                throw RenderError(file: referrer.file, line: referrer.line, message: "\(referrer.label) refers to \(kind) \(name), which could be more than one resource")
            }
            return first
        }

        for index in resources.indices {
            let referrer = resources[index]
            let namespace: String? = referrer.isClusterScoped ? nil : referrer.namespace
            var value = referrer.value
            for reference in Self.references where reference.referrerKinds.contains(referrer.kind) && renamed[reference.referralKind] != nil {
                try value.visit(reference.path[...], create: false) { field in
                    guard let name = field.string,
                          let referral = try newName(name, kind: reference.referralKind, group: reference.referralGroup, namespace: namespace, referrer: referrer)
                    else { return }
                    field = .string(referral.name)
                }
            }
            switch referrer.kind {
            case "RoleBinding", "ClusterRoleBinding":
                try value.visit(["roleRef"], create: false) { roleRef in
                    guard let kind = roleRef["kind"]?.text, kind == "Role" || kind == "ClusterRole", let name = roleRef["name"]?.string,
                          let referral = try newName(name, kind: kind, group: "rbac.authorization.k8s.io", namespace: namespace, referrer: referrer)
                    else { return }
                    roleRef["name"] = .string(referral.name)
                }
                try value.visit(["subjects"], create: false) { subject in
                    guard subject["kind"]?.text == "ServiceAccount", let name = subject["name"]?.string else { return }
                    let subjectNamespace = subject["namespace"]?.text ?? namespace
                    guard let referral = try newName(name, kind: "ServiceAccount", group: "", namespace: subjectNamespace, referrer: referrer) else { return }
                    subject["name"] = .string(referral.name)
                    if !referral.namespace.isEmpty { subject["namespace"] = .string(referral.namespace) }
                }
            case "HorizontalPodAutoscaler":
                try value.visit(["spec", "scaleTargetRef"], create: false) { target in
                    guard let kind = target["kind"]?.text, let name = target["name"]?.string,
                          let referral = try newName(name, kind: kind, group: nil, namespace: namespace, referrer: referrer)
                    else { return }
                    target["name"] = .string(referral.name)
                }
            default:
                break
            }
            resources[index].value = value
        }
    }
}
