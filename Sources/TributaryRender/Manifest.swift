/// One rendered Kubernetes resource.
public struct Manifest: Hashable, Sendable {
    public var apiVersion: String
    public var kind: String
    /// Empty for cluster-scoped resources (or when the source leaves it to the destination).
    public var namespace: String
    public var name: String
    /// `argocd.argoproj.io/sync-wave` or `tributary.dev/sync-wave`; 0 when absent.
    public var syncWave: Int
    /// The resource as YAML: for plain manifests keys in source order; for a kustomization as
    /// `kustomize build` prints it (sorted keys, block style), so the two can be diffed.
    public var yaml: String
    /// The file it came from, from the repository root.
    public var file: String
    /// The line its document starts on.
    public var line: Int

    /// Where it came from, `file:line`.
    public var source: String { "\(self.file):\(self.line)" }

    /// The API group: the part of `apiVersion` before `/`, empty for the core group.
    public var group: String {
        self.apiVersion.contains("/") ? String(self.apiVersion.split(separator: "/")[0]) : ""
    }

    /// The identity duplicates are checked on.
    public var identity: String { "\(self.group)/\(self.kind)/\(self.namespace)/\(self.name)" }
}
