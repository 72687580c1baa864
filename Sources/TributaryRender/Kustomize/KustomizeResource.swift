/// A resource on its way through a kustomization: its content, where it came from, and the names it
/// has had, which patch targets and name references are matched against.
struct KustomizeResource {
    var value: YAMLValue
    /// The file it came from (for generated resources, the kustomization file).
    var file: String
    var line: Int
    let originalName: String
    let originalNamespace: String
    /// Every name it has had, oldest first; references to any of them follow it to its final name.
    private(set) var names: [String]
    private(set) var namespaces: [String]
    /// Generated ConfigMaps and Secrets get a content-hash suffix once everything else is done.
    var needsHashSuffix = false

    init(value: YAMLValue, file: String, line: Int) {
        self.value = value
        self.file = file
        self.line = line
        let name = value.value(at: ["metadata", "name"])?.text ?? ""
        let namespace = value.value(at: ["metadata", "namespace"])?.text ?? ""
        self.originalName = name
        self.originalNamespace = namespace
        self.names = [name]
        self.namespaces = [namespace]
    }

    var apiVersion: String { self.value["apiVersion"]?.text ?? "" }
    var kind: String { self.value["kind"]?.text ?? "" }
    var group: String { self.apiVersion.contains("/") ? String(self.apiVersion.split(separator: "/")[0]) : "" }
    var version: String { String(self.apiVersion.split(separator: "/").last ?? "") }

    var name: String {
        get { self.value.value(at: ["metadata", "name"])?.text ?? "" }
        set {
            self.value.visit(["metadata"], create: true) { $0["name"] = .string(newValue) }
            if self.names.last != newValue { self.names.append(newValue) }
        }
    }

    var namespace: String {
        get { self.value.value(at: ["metadata", "namespace"])?.text ?? "" }
        set {
            self.value.visit(["metadata"], create: true) { $0["namespace"] = .string(newValue) }
            if self.namespaces.last != newValue { self.namespaces.append(newValue) }
        }
    }

    var isClusterScoped: Bool { KustomizeResource.clusterScopedKinds.contains(self.kind) }

    var wasRenamed: Bool { self.names.count > 1 }

    /// Whether `name` was ever this resource's name.
    func hadName(_ name: String) -> Bool { self.names.contains(name) }

    /// Whether `namespace` was ever this resource's namespace, with empty meaning `default`.
    func hadNamespace(_ namespace: String) -> Bool {
        let wanted = namespace.isEmpty ? "default" : namespace
        return self.namespaces.contains { ($0.isEmpty ? "default" : $0) == wanted }
    }

    func metadataMap(_ key: String) -> [String: String] {
        var result: [String: String] = [:]
        for entry in self.value.value(at: ["metadata", key])?.entries ?? [] { result[entry.key] = entry.value.text ?? "" }
        return result
    }

    /// `Kind/namespace/name` for messages.
    var label: String { "\(self.kind) \(self.namespace.isEmpty ? "" : self.namespace + "/")\(self.name)" }

    /// Kinds Kustomize treats as cluster-scoped: they get no namespace.
    static let clusterScopedKinds: Set<String> = [
        "APIService", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding", "ComponentStatus", "CSIDriver", "CSINode",
        "CustomResourceDefinition", "FlowSchema", "IngressClass", "MutatingWebhookConfiguration", "Namespace", "Node",
        "PersistentVolume", "PodSecurityPolicy", "PriorityClass", "PriorityLevelConfiguration", "RuntimeClass",
        "SelfSubjectAccessReview", "SelfSubjectRulesReview", "StorageClass", "SubjectAccessReview", "TokenReview",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration", "VolumeAttachment",
    ]
}
