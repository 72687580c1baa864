extension Kustomizer {
    /// `namespace`: set on every namespaced resource (overriding any it had); a Namespace resource
    /// is renamed to it, and ServiceAccount subjects of (Cluster)RoleBindings in `default` move to it,
    /// as Kustomize v5 does.
    static func setNamespace(_ namespace: String, on resources: inout [KustomizeResource]) {
        for index in resources.indices {
            let kind = resources[index].kind
            if kind == "Namespace" {
                resources[index].name = namespace
                continue
            }
            if kind == "RoleBinding" || kind == "ClusterRoleBinding" {
                resources[index].value.visit(["subjects"], create: false) { subject in
                    if subject["kind"]?.text == "ServiceAccount", subject["namespace"]?.text == "default" {
                        subject["namespace"] = .string(namespace)
                    }
                }
            }
            if kind == "APIService" || kind == "CustomResourceDefinition" {
                let path = kind == "APIService" ? ["spec", "service"] : ["spec", "conversion", "webhook", "clientConfig", "service"]
                resources[index].value.visit(path[...], create: false) { service in
                    if service.entries != nil { service["namespace"] = .string(namespace) }
                }
            }
            if !resources[index].isClusterScoped { resources[index].namespace = namespace }
        }
    }

    /// `namePrefix` / `nameSuffix`: every name but those of Namespaces, CRDs and APIServices.
    static func addAffixes(prefix: String, suffix: String, to resources: inout [KustomizeResource]) {
        for index in resources.indices where !["Namespace", "CustomResourceDefinition", "APIService"].contains(resources[index].kind) {
            resources[index].name = prefix + resources[index].name + suffix
        }
    }

    /// `commonLabels` and `labels`: metadata always; pod templates with `includeTemplates`;
    /// selectors (and templates) with `includeSelectors`, which is what `commonLabels` means.
    static func addLabels(_ labels: Kustomization.LabelSet, to resources: inout [KustomizeResource]) {
        guard !labels.pairs.isEmpty else { return }
        let specs = labels.includeSelectors ? FieldSpec.commonLabels
            : FieldSpec.metadataLabels + (labels.includeTemplates ? FieldSpec.templateLabels : [])
        for index in resources.indices { FieldSpec.setPairs(labels.pairs, at: specs, on: &resources[index]) }
    }

    static func addAnnotations(_ annotations: [(String, String)], to resources: inout [KustomizeResource]) {
        for index in resources.indices { FieldSpec.setPairs(annotations, at: FieldSpec.commonAnnotations, on: &resources[index]) }
    }

    static func setReplicas(_ replica: Kustomization.Replica, on resources: inout [KustomizeResource]) {
        for index in resources.indices
        where ["Deployment", "ReplicaSet", "ReplicationController", "StatefulSet"].contains(resources[index].kind)
            && resources[index].hadName(replica.name) {
            resources[index].value.visit(["spec"], create: true) { $0["replicas"] = replica.count }
        }
    }

    /// `images`: every `image` of a `containers` or `initContainers` item, wherever it sits.
    static func setImage(_ image: Kustomization.Image, on resources: inout [KustomizeResource]) {
        for index in resources.indices { Self.setImage(image, in: &resources[index].value) }
    }

    private static func setImage(_ image: Kustomization.Image, in value: inout YAMLValue) {
        switch value {
        case .mapping(var entries):
            for entryIndex in entries.indices {
                let key = entries[entryIndex].key
                if key == "containers" || key == "initContainers", case .sequence(var containers) = entries[entryIndex].value {
                    for containerIndex in containers.indices {
                        guard let current = containers[containerIndex]["image"]?.text, let updated = Self.updated(current, by: image) else { continue }
                        containers[containerIndex]["image"] = .string(updated)
                    }
                    entries[entryIndex].value = .sequence(containers)
                }
                Self.setImage(image, in: &entries[entryIndex].value)
            }
            value = .mapping(entries)
        case .sequence(var items):
            for itemIndex in items.indices { Self.setImage(image, in: &items[itemIndex]) }
            value = .sequence(items)
        case .scalar:
            return
        }
    }

    /// The new reference for `reference` if `image.name` names it (Kustomize's `IsImageMatched`).
    static func updated(_ reference: String, by image: Kustomization.Image) -> String? {
        // ^name(:[a-zA-Z0-9_.{}-]*)?(@sha256:[a-zA-Z0-9_.{}-]*)?$
        guard reference.hasPrefix(image.name) else { return nil }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.{}-")
        var rest = Substring(reference.dropFirst(image.name.count))
        if rest.hasPrefix(":") {
            rest = rest.dropFirst().drop(while: { allowed.contains($0) })
        }
        if rest.hasPrefix("@sha256:") {
            rest = rest.dropFirst("@sha256:".count).drop(while: { allowed.contains($0) })
        }
        guard rest.isEmpty else { return nil }
        var (name, tag, digest) = Self.split(reference)
        if let newName = image.newName, !newName.isEmpty { name = newName }
        let newTag = image.newTag ?? ""
        let newDigest = image.digest ?? ""
        if !newTag.isEmpty && !newDigest.isEmpty {
            (tag, digest) = (newTag, newDigest)
        } else if !newTag.isEmpty {
            (tag, digest) = (newTag, "")
        } else if !newDigest.isEmpty {
            (tag, digest) = ("", newDigest)
        }
        return name + (tag.isEmpty ? "" : ":" + tag) + (digest.isEmpty ? "" : "@" + digest)
    }

    /// Kustomize's `image.Split`: name, tag and digest, ignoring a registry's `:port`.
    private static func split(_ reference: String) -> (String, String, String) {
        let characters = Array(reference)
        let slash = characters.firstIndex(of: "/").flatMap { $0 > 0 ? $0 : nil } ?? 0
        let search = characters[slash...]
        let at = search.firstIndex(of: "@")
        let colon = search.firstIndex(of: ":")
        switch (colon, at) {
        case (nil, nil):
            return (reference, "", "")
        case (let colon, let at?) where colon == nil || at < colon!:
            return (String(characters[..<at]), "", String(characters[(at + 1)...]))
        case (let colon?, let at?):
            return (String(characters[..<colon]), String(characters[(colon + 1)..<at]), String(characters[(at + 1)...]))
        case (let colon?, nil):
            return (String(characters[..<colon]), String(characters[(colon + 1)...]), "")
        default:
            return (reference, "", "")
        }
    }
}
