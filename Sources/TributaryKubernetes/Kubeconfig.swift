import Foundation
import Yams

/// A kubeconfig file, read as kubectl reads it, down to the one context a cluster entry names.
public enum Kubeconfig {
    /// The connection a kubeconfig context describes.
    ///
    /// - Parameters:
    ///   - path: the kubeconfig file; relative paths inside it are relative to its directory.
    ///   - context: the context to use; nil: `current-context`.
    /// - Throws: `KubernetesError.credentials` naming the file and what is missing or unreadable,
    ///   never a credential.
    public static func connection(path: String, context: String?) throws -> KubernetesConnection {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KubernetesError(code: .credentials, message: "kubeconfig \(path): cannot read the file")
        }
        let document: JSONValue
        do {
            document = JSONValue(any: try Yams.load(yaml: String(decoding: data, as: UTF8.self)))
        } catch {
            throw KubernetesError(code: .credentials, message: "kubeconfig \(path): not valid YAML")
        }
        return try self.connection(document: document, path: path, context: context)
    }

    static func connection(document: JSONValue, path: String, context requested: String?) throws -> KubernetesConnection {
        func fail(_ message: String) -> KubernetesError { KubernetesError(code: .credentials, message: "kubeconfig \(path): \(message)") }
        func named(_ list: String, _ name: String) -> JSONValue? {
            document[list]?.array?.first { $0["name"]?.string == name }
        }
        guard let contextName = requested ?? document["current-context"]?.string, !contextName.isEmpty else {
            throw fail("no context given and no current-context set")
        }
        guard let context = named("contexts", contextName)?["context"] else { throw fail("no context named \(contextName)") }
        guard let clusterName = context["cluster"]?.string, let cluster = named("clusters", clusterName)?["cluster"] else {
            throw fail("context \(contextName) names no cluster that the file declares")
        }
        guard let server = cluster["server"]?.string, !server.isEmpty else { throw fail("cluster \(clusterName) has no server") }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        func resolve(_ file: String) -> String { file.hasPrefix("/") ? file : "\(directory)/\(file)" }
        func pem(_ object: JSONValue, data dataKey: String, file fileKey: String, what: String) throws -> [UInt8]? {
            if let encoded = object[dataKey]?.string {
                guard let bytes = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters), !bytes.isEmpty else {
                    throw fail("\(what) (\(dataKey)) is not base64")
                }
                return Array(bytes)
            }
            if let file = object[fileKey]?.string { return try KubernetesConnection.read(resolve(file), what: "kubeconfig \(path): \(what)") }
            return nil
        }

        var connection = KubernetesConnection(server: server)
        connection.certificateAuthority = try pem(cluster, data: "certificate-authority-data", file: "certificate-authority", what: "certificate authority")
        connection.insecureSkipTLSVerify = cluster["insecure-skip-tls-verify"]?.bool ?? false
        if cluster["tls-server-name"] != nil {
            // async-http-client verifies the certificate against the URL's host; it has no separate name to check.
            throw fail("cluster \(clusterName) sets tls-server-name, which Tributary does not support yet; use a server URL whose host the certificate names")
        }

        guard let userName = context["user"]?.string else { return connection }
        guard let user = named("users", userName)?["user"] else { throw fail("context \(contextName) names user \(userName), which the file does not declare") }
        let certificate = try pem(user, data: "client-certificate-data", file: "client-certificate", what: "client certificate")
        let key = try pem(user, data: "client-key-data", file: "client-key", what: "client key")
        switch (certificate, key) {
        case (let certificate?, let key?): connection.clientCertificate = .init(certificate: certificate, key: key)
        case (nil, nil): break
        default: throw fail("user \(userName) has a client certificate without its key, or a key without its certificate")
        }
        if let token = user["token"]?.string, !token.isEmpty {
            connection.token = .fixed(token)
        } else if let file = user["tokenFile"]?.string {
            connection.token = .file(resolve(file))
        } else if let exec = user["exec"] {
            guard let command = exec["command"]?.string, !command.isEmpty else { throw fail("user \(userName): exec has no command") }
            var environment: [String: String] = [:]
            for entry in exec["env"]?.array ?? [] {
                if let name = entry["name"]?.string { environment[name] = entry["value"]?.string ?? "" }
            }
            connection.token = .exec(
                ExecCredentialPlugin(
                    apiVersion: exec["apiVersion"]?.string ?? "client.authentication.k8s.io/v1",
                    command: command.hasPrefix(".") ? resolve(command) : command,
                    arguments: exec["args"]?.array?.compactMap(\.string) ?? [],
                    environment: environment,
                    interactiveMode: exec["interactiveMode"]?.string ?? "IfAvailable",
                    installHint: exec["installHint"]?.string
                )
            )
        } else if user["auth-provider"] != nil {
            throw fail("user \(userName) uses an auth-provider, which kubectl itself no longer supports; use an exec plugin")
        } else if user["username"] != nil {
            throw fail("user \(userName) uses basic authentication, which Kubernetes removed in 1.19")
        }
        return connection
    }
}
