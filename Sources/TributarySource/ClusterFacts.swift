/// What a worker knows of an app's destination cluster, given to Helm (`--kube-version`,
/// `--api-versions`) and to plugins (`KUBE_VERSION`, `KUBE_API_VERSIONS`).
public struct ClusterFacts: Hashable, Sendable {
    /// `1.31.0`: the API server's `gitVersion` without `v` or a build suffix.
    public var kubeVersion: String
    /// `v1`, `apps/v1`, … as discovery lists them.
    public var apiVersions: [String]

    public init(kubeVersion: String, apiVersions: [String]) {
        self.kubeVersion = kubeVersion
        self.apiVersions = apiVersions
    }

    /// `1.31.0` of `v1.31.0-eks-1234` or `v1.31.0+k3s1`.
    public static func semanticVersion(of gitVersion: String) -> String {
        let trimmed = gitVersion.hasPrefix("v") ? gitVersion.dropFirst() : Substring(gitVersion)
        return String(trimmed.prefix { $0.isNumber || $0 == "." })
    }
}
