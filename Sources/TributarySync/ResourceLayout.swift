import TributaryRender

/// How rendered manifests become files in a target: one file per resource, named
/// `<kind>[.<group>]_<namespace>_<name>.yaml` (lower-case kind; empty namespace for cluster-scoped
/// resources). Kubernetes names cannot contain `_`, so the name is unambiguous.
public enum ResourceLayout {
    public static func fileName(for manifest: Manifest) -> String {
        let kind = manifest.group.isEmpty ? manifest.kind.lowercased() : "\(manifest.kind.lowercased()).\(manifest.group)"
        return "\(kind)_\(manifest.namespace)_\(manifest.name).yaml"
    }

    public static func resources(for manifests: [Manifest]) -> [RenderedResource] {
        manifests.map { RenderedResource(path: Self.fileName(for: $0), contents: Array($0.yaml.utf8)) }
    }
}
