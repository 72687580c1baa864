import Foundation
import Testing
@testable import TributaryKubernetes

@Suite("Kubeconfig")
struct KubeconfigTests {
    let directory: URL

    init() throws {
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("kubeconfig-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = self.directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func readsTheNamedContextWithRelativeFilesAndInlineData() throws {
        _ = try self.write("ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        let path = try self.write(
            "config",
            """
            apiVersion: v1
            kind: Config
            current-context: dev
            clusters:
              - name: dev
                cluster: { server: "https://dev.example:6443", insecure-skip-tls-verify: true }
              - name: prod
                cluster: { server: "https://prod.example:6443/", certificate-authority: ca.pem }
              - name: named
                cluster: { server: "https://10.0.0.1:6443", tls-server-name: api.prod }
            users:
              - name: dev
                user: { token: dev-token }
              - name: prod
                user: { client-certificate-data: \(Data("CERT".utf8).base64EncodedString()), client-key-data: \(Data("KEY".utf8).base64EncodedString()) }
            contexts:
              - name: dev
                context: { cluster: dev, user: dev }
              - name: prod
                context: { cluster: prod, user: prod, namespace: web }
              - name: named
                context: { cluster: named, user: dev }
            """
        )
        let dev = try Kubeconfig.connection(path: path, context: nil)
        #expect(dev.server == "https://dev.example:6443")
        #expect(dev.insecureSkipTLSVerify)
        guard case .fixed("dev-token") = dev.token else { Issue.record("expected the inline token"); return }
        let prod = try Kubeconfig.connection(path: path, context: "prod")
        #expect(prod.server == "https://prod.example:6443")
        #expect(prod.certificateAuthority.map { String(decoding: $0, as: UTF8.self) }?.contains("BEGIN CERTIFICATE") == true)
        #expect(prod.clientCertificate?.certificate == Array("CERT".utf8))
        #expect(prod.clientCertificate?.key == Array("KEY".utf8))
        #expect(prod.token.map { _ in true } == nil)
        let named = #expect(throws: KubernetesError.self) { try Kubeconfig.connection(path: path, context: "named") }
        #expect(named?.message.contains("tls-server-name, which Tributary does not support yet") == true)
    }

    @Test func errorsNameTheFileAndWhatIsMissingButNoSecret() throws {
        let path = try self.write(
            "broken",
            """
            current-context: a
            clusters: [{ name: a, cluster: { server: "https://a:6443" } }]
            users: [{ name: a, user: { client-certificate-data: \(Data("SECRET-CERT".utf8).base64EncodedString()) } }]
            contexts: [{ name: a, context: { cluster: a, user: a } }, { name: b, context: { cluster: nope } }]
            """
        )
        let missingKey = #expect(throws: KubernetesError.self) { try Kubeconfig.connection(path: path, context: nil) }
        #expect(missingKey?.message == "kubeconfig \(path): user a has a client certificate without its key, or a key without its certificate")
        let noCluster = #expect(throws: KubernetesError.self) { try Kubeconfig.connection(path: path, context: "b") }
        #expect(noCluster?.message.contains("context b names no cluster") == true)
        let noContext = #expect(throws: KubernetesError.self) { try Kubeconfig.connection(path: path, context: "c") }
        #expect(noContext?.message.contains("no context named c") == true)
    }

    @Test func execPluginsRunAsKubectlRunsThemAndCertificatePluginsAreRefused() async throws {
        let script = try self.write(
            "plugin.sh",
            """
            #!/bin/sh
            # Echoes what kubectl's contract gives a plugin: the exec info and an env var from the kubeconfig.
            case "$KUBERNETES_EXEC_INFO" in *'"interactive":false'*) ;; *) exit 3 ;; esac
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s-%s","expirationTimestamp":"2099-01-01T00:00:00Z"}}' "$1" "$PLUGIN_REGION"
            """
        )
        chmod(script, 0o755)
        let path = try self.write(
            "exec",
            """
            current-context: eks
            clusters: [{ name: eks, cluster: { server: "https://eks.example" } }]
            users:
              - name: eks
                user:
                  exec: { apiVersion: client.authentication.k8s.io/v1, command: ./plugin.sh, args: [token], env: [{ name: PLUGIN_REGION, value: eu-west-1 }] }
            contexts: [{ name: eks, context: { cluster: eks, user: eks } }]
            """
        )
        let connection = try Kubeconfig.connection(path: path, context: nil)
        guard case .exec(let plugin) = connection.token else {
            Issue.record("expected an exec plugin")
            return
        }
        let credential = try await plugin.run()
        #expect(credential.token == "token-eu-west-1")
        #expect(credential.expiresAt == Date(timeIntervalSince1970: 4_070_908_800))

        let certificate = #expect(throws: KubernetesError.self) {
            try ExecCredentialPlugin.credential(from: Array(#"{"kind":"ExecCredential","status":{"clientCertificateData":"x","clientKeyData":"y"}}"#.utf8), command: "gke")
        }
        #expect(certificate?.message == "exec plugin gke answers with a client certificate; Tributary takes token credentials from plugins only")
        let missing = ExecCredentialPlugin(apiVersion: "client.authentication.k8s.io/v1", command: "no-such-plugin-\(UUID().uuidString.prefix(4))", installHint: "install it")
        let notFound = await #expect(throws: KubernetesError.self) { try await missing.run() }
        #expect(notFound?.message.hasSuffix("is not on PATH: install it") == true)
    }

    @Test func inClusterNeedsThePodsEnvironmentAndReadsTheServiceAccount() throws {
        let outside = #expect(throws: KubernetesError.self) { try KubernetesConnection.inCluster(environment: [:], directory: self.directory.path) }
        #expect(outside?.message.contains("KUBERNETES_SERVICE_HOST") == true)
        _ = try self.write("token", "sa-token\n")
        _ = try self.write("ca.crt", "-----BEGIN CERTIFICATE-----\n")
        let connection = try KubernetesConnection.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"], directory: self.directory.path)
        #expect(connection.server == "https://10.96.0.1:443")
        guard case .file(let path) = connection.token else {
            Issue.record("the token is re-read from its file")
            return
        }
        #expect(path == self.directory.appendingPathComponent("token").path)
    }
}
