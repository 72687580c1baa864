/// Kubernetes strategic-merge patching without the OpenAPI schema: maps merge recursively, `null`
/// deletes a key, lists of named items merge by their usual merge key (Kubernetes' patchMergeKey for
/// the common fields, else the key Kustomize's kyaml guesses), and other lists are replaced.
/// Merged lists come out as Kubernetes orders them: the patch's items in patch order, then the items
/// the patch did not mention. Directives: `$patch: delete` (item, map or whole resource) and
/// `$patch: replace` (map or list).
enum StrategicMerge {
    /// The patched resource, or `nil` when the patch deletes it.
    static func apply(_ patch: YAMLValue, to resource: YAMLValue) -> YAMLValue? {
        Self.merge(resource, patch, path: [])
    }

    private static func merge(_ destination: YAMLValue?, _ patch: YAMLValue, path: [String]) -> YAMLValue? {
        switch patch {
        case .mapping(let entries):
            switch entries.first(where: { $0.key == "$patch" })?.value.text {
            case "delete": return nil
            case "replace": return .mapping(entries.filter { !$0.key.hasPrefix("$") })
            default: break
            }
            var result: YAMLValue = destination?.entries != nil ? destination! : .mapping([])
            for entry in entries where !entry.key.hasPrefix("$") {
                if entry.value.isNull {
                    result[entry.key] = nil
                } else {
                    result[entry.key] = Self.merge(result[entry.key], entry.value, path: path + [entry.key])
                }
            }
            return result
        case .sequence(let items):
            return .sequence(Self.mergeList(destination?.items, items, path: path))
        case .scalar:
            return patch
        }
    }

    private static func mergeList(_ destination: [YAMLValue]?, _ patch: [YAMLValue], path: [String]) -> [YAMLValue] {
        let isDirective = { (item: YAMLValue) -> String? in
            guard let entries = item.entries, entries.count == 1, entries[0].key == "$patch" else { return nil }
            return entries[0].value.text
        }
        if patch.contains(where: { isDirective($0) == "replace" }) {
            return patch.filter { isDirective($0) == nil }.compactMap { Self.merge(nil, $0, path: path) }
        }
        guard let destination, let key = Self.mergeKey(path: path, items: destination + patch) else {
            return patch.compactMap { item in item.entries == nil ? item : Self.merge(nil, item, path: path) }
        }
        var remaining = destination
        var result: [YAMLValue] = []
        for item in patch {
            let identity = item[key]
            let match = remaining.firstIndex { $0[key] == identity }
            let existing = match.map { remaining.remove(at: $0) }
            if let merged = Self.merge(existing, item, path: path) { result.append(merged) }
        }
        return result + remaining
    }

    /// Kubernetes' patchMergeKey for a list field, by the field's name and where it sits.
    private static let mergeKeys: [String: String] = [
        "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name", "env": "name",
        "volumeMounts": "mountPath", "volumeDevices": "devicePath", "imagePullSecrets": "name", "hostAliases": "ip",
        "topologySpreadConstraints": "topologyKey", "resourceClaims": "name", "conditions": "type", "secrets": "name",
    ]

    /// Lists Kubernetes replaces even though their items have a `name` or similar field.
    private static let replacedLists: Set<String> = [
        "args", "command", "envFrom", "tolerations", "subjects", "rules", "finalizers", "items", "sources", "matchExpressions",
    ]

    /// The keys kyaml tries, in order, for lists it has no schema for.
    private static let guessedKeys = ["mountPath", "devicePath", "ip", "type", "topologyKey", "name", "containerPort"]

    private static func mergeKey(path: [String], items: [YAMLValue]) -> String? {
        guard let field = path.last, !Self.replacedLists.contains(field), items.allSatisfy({ $0.entries != nil }) else { return nil }
        if field == "ports" {
            return path.contains("containers") || path.contains("initContainers") || path.contains("ephemeralContainers") ? "containerPort" : "port"
        }
        if let key = Self.mergeKeys[field] { return key }
        return Self.guessedKeys.first { key in
            items.allSatisfy { item in item[key] != nil || item["$patch"] != nil }
        }
    }
}
