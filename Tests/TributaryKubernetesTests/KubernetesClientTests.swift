import Foundation
import Testing
import TributaryTestSupport
@testable import TributaryKubernetes

/// The client against the stand-in API server over HTTPS.
@Suite("Kubernetes client", .serialized, .timeLimit(.minutes(1)), .enabled(if: ProcessInfo.processInfo.environment["TRIBUTARY_TEST_KUBECONTEXT"] == nil))
struct KubernetesClientTests {
    let directory: URL
    let server: KubernetesAPIServer

    init() throws {
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("kube-client-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        self.server = try KubernetesAPIServer(directory: self.directory)
    }

    /// A kubeconfig whose user is an exec plugin that logs each run and prints the tokens of
    /// `tokens` in turn (the last one from then on).
    func execKubeconfig(tokens: [String]) throws -> (path: String, runs: URL) {
        let runs = self.directory.appendingPathComponent("runs")
        let plugin = self.directory.appendingPathComponent("plugin.sh")
        try """
            #!/bin/sh
            echo run >> "\(runs.path)"
            count=$(wc -l < "\(runs.path)")
            set -- \(tokens.joined(separator: " "))
            [ "$count" -le "$#" ] && shift $((count - 1)) || shift $(($# - 1))
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$1"
            """.write(to: plugin, atomically: true, encoding: .utf8)
        chmod(plugin.path, 0o755)
        let path = self.directory.appendingPathComponent("exec.kubeconfig").path
        try """
            current-context: standin
            clusters: [{ name: standin, cluster: { server: "\(self.server.url)", certificate-authority: "\(self.server.caFile)" } }]
            users: [{ name: plugin, user: { exec: { apiVersion: client.authentication.k8s.io/v1, command: "\(plugin.path)" } } }]
            contexts: [{ name: standin, context: { cluster: standin, user: plugin } }]
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return (path, runs)
    }

    func runCount(_ runs: URL) -> Int {
        ((try? String(contentsOf: runs, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    @Test func oneExecPluginRunServesConcurrentRequests() async throws {
        let (path, runs) = try self.execKubeconfig(tokens: [self.server.token])
        let client = try KubernetesClient(connection: Kubeconfig.connection(path: path, context: nil))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { _ = try await client.discover("v1") } }
            try await group.waitForAll()
        }
        #expect(self.runCount(runs) == 1)
    }

    @Test func aRefusedPluginTokenIsDroppedAndThePluginAskedAgain() async throws {
        let (path, runs) = try self.execKubeconfig(tokens: ["revoked-token", self.server.token])
        let client = try KubernetesClient(connection: Kubeconfig.connection(path: path, context: nil))
        let namespaces = try await client.list(apiVersion: "v1", kind: "Namespace")
        #expect(namespaces.allSatisfy { $0["kind"] == "Namespace" })
        #expect(self.runCount(runs) == 2)
    }

    @Test func applyDryRunAndDeleteSpeakTheAPI() async throws {
        let client = try KubernetesClient(connection: Kubeconfig.connection(path: self.server.kubeconfig, context: self.server.context))
        let configMap: JSONValue = .object([
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": .object(["name": "client-test", "namespace": "default"]), "data": .object(["a": "1"]),
        ])
        let reference = try #require(ObjectReference(of: configMap))
        let dryRun = try await client.apply(configMap, fieldManager: "test", force: true, dryRun: true)
        #expect(dryRun[path: "data.a"] == "1")
        #expect(try await client.get(reference) == nil)
        _ = try await client.apply(configMap, fieldManager: "test", force: true)
        let live = try #require(try await client.get(reference))
        #expect(live[path: "metadata.managedFields"]?.array?.contains { $0["manager"] == "test" && $0["operation"] == "Apply" } == true, "\(live)")
        // Another incarnation of the object is not deleted.
        let other = await #expect(throws: KubernetesError.self) { try await client.delete(reference, propagation: "Background", uid: "not-its-uid") }
        #expect(other?.code == .conflict)
        #expect(try await client.delete(reference, propagation: "Background", uid: live[path: "metadata.uid"]?.string))
        #expect(try await client.delete(reference, propagation: "Background") == false)
        let unknown = await #expect(throws: KubernetesError.self) { try await client.resource(apiVersion: "example.com/v1", kind: "Widget") }
        #expect(unknown?.code == .unknownKind)
    }
}
