import TributaryRender

/// How rendered manifests become files in a target: one file per resource, named
/// `<kind>[.<group>]_<namespace>_<name>.yaml` (lower-case kind; empty namespace for cluster-scoped
/// resources). Kubernetes names cannot contain `_`, so the name is unambiguous.
public enum ResourceLayout {
    public static func fileName(for manifest: Manifest) -> String {
        let kind = manifest.group.isEmpty ? manifest.kind.lowercased() : "\(manifest.kind.lowercased()).\(manifest.group)"
        return "\(Self.safe(kind))_\(Self.safe(manifest.namespace))_\(Self.safe(manifest.name)).yaml"
    }

    /// Kinds, namespaces and names come from the repository: anything that could make a path
    /// (`/`, a leading `.`) or an odd file name becomes `_`, so a file never lands outside the target.
    static func safe(_ part: String) -> String {
        var result = String(part.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
        if result.hasPrefix(".") { result = "_" + result.dropFirst() }
        return result
    }

    public static func resources(for manifests: [Manifest]) -> [RenderedResource] {
        manifests.map { RenderedResource(path: Self.fileName(for: $0), contents: Array($0.yaml.utf8)) }
    }
}
