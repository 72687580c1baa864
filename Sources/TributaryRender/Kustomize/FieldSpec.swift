/// Where a transformer writes, as in Kustomize's builtin field specs: a path (walking into every
/// element of a list met on the way) in resources of a kind (and group or version, where given).
struct FieldSpec {
    var kind: String?
    var group: String?
    var version: String?
    var path: [String]
    var create: Bool

    init(_ path: String, kind: String? = nil, group: String? = nil, version: String? = nil, create: Bool) {
        self.path = path.split(separator: "/").map(String.init)
        self.kind = kind
        self.group = group
        self.version = version
        self.create = create
    }

    func applies(to resource: KustomizeResource) -> Bool {
        if let kind, kind != resource.kind { return false }
        if let group, group != resource.group { return false }
        if let version, version != resource.version { return false }
        return true
    }

    /// Sets each pair in the string map at this spec's path.
    static func setPairs(_ pairs: [(String, String)], at specs: [FieldSpec], on resource: inout KustomizeResource) {
        for spec in specs where spec.applies(to: resource) {
            resource.value.visit(spec.path[...], create: spec.create) { map in
                if map.entries == nil { map = .mapping([]) }
                for (key, value) in pairs { map[key] = .string(value) }
            }
        }
    }

    static let podTemplateKinds = ["Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job", "ReplicationController"]

    /// `metadata/labels` everywhere.
    static let metadataLabels = [FieldSpec("metadata/labels", create: true)]

    /// Pod template labels (`labels[].includeTemplates`).
    static let templateLabels = Self.podTemplateKinds.map { FieldSpec("spec/template/metadata/labels", kind: $0, create: true) } + [
        FieldSpec("spec/jobTemplate/metadata/labels", kind: "CronJob", create: true),
        FieldSpec("spec/jobTemplate/spec/template/metadata/labels", kind: "CronJob", create: true),
    ]

    /// Everything `commonLabels` (or `labels[].includeSelectors`) touches: metadata, templates and selectors.
    static let commonLabels: [FieldSpec] = {
        var specs = Self.metadataLabels + Self.templateLabels + [
            FieldSpec("spec/selector", kind: "Service", version: "v1", create: true),
            FieldSpec("spec/selector", kind: "ReplicationController", version: "v1", create: true),
            FieldSpec("spec/selector/matchLabels", kind: "Deployment", create: true),
            FieldSpec("spec/selector/matchLabels", kind: "ReplicaSet", create: true),
            FieldSpec("spec/selector/matchLabels", kind: "DaemonSet", create: true),
            FieldSpec("spec/selector/matchLabels", kind: "StatefulSet", group: "apps", create: true),
            FieldSpec("spec/volumeClaimTemplates[]/metadata/labels", kind: "StatefulSet", group: "apps", create: true),
            FieldSpec("spec/selector/matchLabels", kind: "Job", group: "batch", create: false),
            FieldSpec("spec/jobTemplate/spec/selector/matchLabels", kind: "CronJob", group: "batch", create: false),
            FieldSpec("spec/selector/matchLabels", kind: "PodDisruptionBudget", group: "policy", create: false),
            FieldSpec("spec/podSelector/matchLabels", kind: "NetworkPolicy", group: "networking.k8s.io", create: false),
            FieldSpec("spec/ingress/from/podSelector/matchLabels", kind: "NetworkPolicy", group: "networking.k8s.io", create: false),
            FieldSpec("spec/egress/to/podSelector/matchLabels", kind: "NetworkPolicy", group: "networking.k8s.io", create: false),
        ]
        for kind in ["Deployment", "StatefulSet"] {
            for affinity in ["podAffinity", "podAntiAffinity"] {
                specs.append(FieldSpec("spec/template/spec/affinity/\(affinity)/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", kind: kind, group: "apps", create: false))
                specs.append(FieldSpec("spec/template/spec/affinity/\(affinity)/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", kind: kind, group: "apps", create: false))
            }
            specs.append(FieldSpec("spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", kind: kind, group: "apps", create: false))
        }
        return specs
    }()

    /// Everything `commonAnnotations` touches: metadata and pod templates.
    static let commonAnnotations = [FieldSpec("metadata/annotations", create: true)]
        + Self.podTemplateKinds.map { FieldSpec("spec/template/metadata/annotations", kind: $0, create: true) } + [
            FieldSpec("spec/jobTemplate/metadata/annotations", kind: "CronJob", create: true),
            FieldSpec("spec/jobTemplate/spec/template/metadata/annotations", kind: "CronJob", create: true),
        ]
}
