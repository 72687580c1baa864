import Foundation

/// Where an API server is and how to prove who we are to it: what a kubeconfig context, a token
/// with a CA file, a client certificate or the in-cluster service account come down to.
public struct KubernetesConnection: Sendable {
    /// `https://host:port` (or `http://` for a local test server).
    public var server: String
    /// PEM bytes of the CA that signed the server's certificate; nil: the system's roots.
    public var certificateAuthority: [UInt8]?
    /// `insecure-skip-tls-verify`. Default false.
    public var insecureSkipTLSVerify = false
    /// A client certificate and its key, PEM.
    public var clientCertificate: ClientCertificate?
    /// Where the bearer token comes from, if any.
    public var token: TokenSource?

    public init(server: String) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
    }

    public struct ClientCertificate: Sendable {
        public var certificate: [UInt8]
        public var key: [UInt8]

        public init(certificate: [UInt8], key: [UInt8]) {
            self.certificate = certificate
            self.key = key
        }
    }

    public enum TokenSource: Sendable {
        /// A token read once.
        case fixed(String)
        /// A file read for every request, so a rotated token (a projected service-account
        /// token is replaced about hourly) is picked up without a restart.
        case file(String)
        /// Resolved for every request (a secret reference).
        case provider(@Sendable () throws -> String)
        /// A kubeconfig `exec` credential plugin, run as kubectl runs it.
        case exec(ExecCredentialPlugin)
    }

    /// The pod's service account, as client-go's `rest.InClusterConfig` finds it: the API
    /// server from `KUBERNETES_SERVICE_HOST`/`_PORT`, the token and CA from
    /// `/var/run/secrets/kubernetes.io/serviceaccount`.
    ///
    /// - Throws: `KubernetesError.credentials` when not running in a pod.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        directory: String = "/var/run/secrets/kubernetes.io/serviceaccount"
    ) throws -> KubernetesConnection {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"], !host.isEmpty, !port.isEmpty else {
            throw KubernetesError(code: .credentials, message: "inCluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set; is this running in a pod?")
        }
        let bracketed = host.contains(":") ? "[\(host)]" : host
        var connection = KubernetesConnection(server: "https://\(bracketed):\(port)")
        let tokenPath = "\(directory)/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw KubernetesError(code: .credentials, message: "inCluster: cannot read the service-account token at \(tokenPath)")
        }
        connection.token = .file(tokenPath)
        connection.certificateAuthority = try Self.read("\(directory)/ca.crt", what: "inCluster: the service-account CA")
        return connection
    }

    /// Reads a PEM or token file.
    ///
    /// - Throws: `KubernetesError.credentials` naming `what` and the path, never the contents.
    public static func read(_ path: String, what: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else {
            throw KubernetesError(code: .credentials, message: "\(what): cannot read \(path)")
        }
        return Array(data)
    }
}
