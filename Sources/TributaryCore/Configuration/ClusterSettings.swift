import Foundation

/// `clusters[]`: a Kubernetes API server apps can sync to, and how its workers log in. Only the
/// cluster's own workers (`tributary worker --cluster NAME`) resolve these credentials.
public struct ClusterSettings: Sendable {
    /// `name`: what apps' `destination.name` says; also the worker group's and topic's suffix.
    public var name: String
    /// `server`: the API server URL. Optional with `kubeconfig` (the context's) and `inCluster`.
    public var server: String?
    public var auth: Auth
    /// `inventoryNamespace`: where each app's inventory ConfigMap lives. Default `tributary-system`
    /// (created when missing).
    public var inventoryNamespace = "tributary-system"
    public var file: String
    public var line: Int?

    public enum Auth: Sendable {
        /// `auth: { kubeconfig: { file, context } }`: a kubeconfig context (context default: current).
        case kubeconfig(file: String, context: String?)
        /// `auth: { token: SECRET, caFile }`: a bearer token; a `{ file: }` token is re-read for every request.
        case token(SecretReference, caFile: String?, insecureSkipTLSVerify: Bool)
        /// `auth: { clientCertificate: { certFile, keyFile }, caFile }`.
        case clientCertificate(certFile: String, keyFile: String, caFile: String?, insecureSkipTLSVerify: Bool)
        /// `auth: { inCluster: true }`: the pod's service account (token re-read when rotated).
        case inCluster
    }

    init(node: ConfigurationNode) throws {
        let mapping = try node.mapping(allowedKeys: ["name", "server", "auth", "inventoryNamespace"])
        self.file = node.file
        self.line = node.line
        self.name = try mapping.required("name").string()
        guard self.name.range(of: "^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$", options: .regularExpression) != nil else {
            throw try mapping.required("name").error("cluster names are lower-case letters, digits, '-' and '.', at most 63 characters")
        }
        if let server = mapping["server"] {
            let url = try server.string()
            guard let components = URLComponents(string: url), ["https", "http"].contains(components.scheme ?? ""), components.host?.isEmpty == false else {
                throw server.error("expected an https:// URL of the API server")
            }
            guard components.user == nil, components.password == nil, components.query == nil else {
                throw server.error("the server URL may not carry credentials or a query; put them under auth")
            }
            // A bearer token over plain HTTP is readable by anyone on the path.
            guard components.scheme == "https" || ["127.0.0.1", "localhost", "::1", "[::1]"].contains(components.host ?? "") else {
                throw server.error("http:// would send the credentials in clear; use https:// (http is accepted for loopback addresses only)")
            }
            self.server = url
        }
        if let namespace = mapping["inventoryNamespace"] { self.inventoryNamespace = try namespace.string() }

        let authNode = try mapping.required("auth")
        let auth = try authNode.mapping(allowedKeys: ["kubeconfig", "token", "clientCertificate", "caFile", "inCluster", "insecureSkipTLSVerify"])
        let caFile = try auth["caFile"]?.string()
        let insecure = try auth["insecureSkipTLSVerify"]?.bool() ?? false
        let methods = ["kubeconfig", "token", "clientCertificate", "inCluster"].filter { auth[$0] != nil }
        guard methods.count == 1 else {
            throw authNode.error("auth is exactly one of kubeconfig: { file, context }, token: SECRET (with caFile), clientCertificate: { certFile, keyFile } (with caFile) or inCluster: true")
        }
        switch methods[0] {
        case "kubeconfig":
            let fields = try auth.required("kubeconfig").mapping(allowedKeys: ["file", "context"])
            self.auth = .kubeconfig(file: try fields.required("file").string(), context: try fields["context"]?.string())
            if caFile != nil || insecure { throw authNode.error("with kubeconfig, TLS settings come from the kubeconfig") }
        case "token":
            self.auth = .token(try auth.required("token").secretReference(), caFile: caFile, insecureSkipTLSVerify: insecure)
        case "clientCertificate":
            let fields = try auth.required("clientCertificate").mapping(allowedKeys: ["certFile", "keyFile"])
            self.auth = .clientCertificate(certFile: try fields.required("certFile").string(), keyFile: try fields.required("keyFile").string(), caFile: caFile, insecureSkipTLSVerify: insecure)
        default:
            let flag = try auth.required("inCluster")
            guard try flag.bool() else { throw flag.error("inCluster is true or absent") }
            self.auth = .inCluster
        }
        switch self.auth {
        case .token, .clientCertificate:
            if self.server == nil { throw node.error("a cluster with token or clientCertificate auth needs server") }
        case .kubeconfig, .inCluster:
            break
        }
    }
}
