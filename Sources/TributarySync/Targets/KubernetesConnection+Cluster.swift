import TributaryCore
import TributaryKubernetes

extension KubernetesConnection {
    /// The connection a `clusters[]` entry describes. Run only by the cluster's own workers.
    ///
    /// - Throws: `KubernetesError.credentials` naming the file or setting that cannot be read.
    static func make(for cluster: ClusterSettings) throws -> KubernetesConnection {
        var connection: KubernetesConnection
        switch cluster.auth {
        case .kubeconfig(let file, let context):
            connection = try Kubeconfig.connection(path: file, context: context)
            if let server = cluster.server { connection.server = server }
        case .inCluster:
            connection = try .inCluster()
            if let server = cluster.server { connection.server = server }
        case .token(let secret, let caFile, let insecure):
            connection = KubernetesConnection(server: cluster.server ?? "")
            connection.token = .provider { try secret.resolve() }
            connection.certificateAuthority = try caFile.map { try Self.read($0, what: "cluster \(cluster.name): caFile") }
            connection.insecureSkipTLSVerify = insecure
        case .clientCertificate(let certFile, let keyFile, let caFile, let insecure):
            connection = KubernetesConnection(server: cluster.server ?? "")
            connection.clientCertificate = .init(
                certificate: try Self.read(certFile, what: "cluster \(cluster.name): certFile"),
                key: try Self.read(keyFile, what: "cluster \(cluster.name): keyFile")
            )
            connection.certificateAuthority = try caFile.map { try Self.read($0, what: "cluster \(cluster.name): caFile") }
            connection.insecureSkipTLSVerify = insecure
        }
        return connection
    }
}

extension KubernetesClient {
    /// The client of a `clusters[]` entry.
    ///
    /// - Throws: `SyncError` naming the cluster when its credentials cannot be read.
    static func make(for cluster: ClusterSettings, userAgent: String) throws -> KubernetesClient {
        do {
            return try KubernetesClient(connection: .make(for: cluster), userAgent: userAgent)
        } catch let error as KubernetesError {
            throw SyncError(code: .target, message: "cluster \(cluster.name): \(error.message)")
        }
    }
}
