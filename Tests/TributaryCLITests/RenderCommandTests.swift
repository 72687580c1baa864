import Foundation
import Testing
import TributaryTestSupport

@Suite("tributary render")
struct RenderCommandTests {
    static func configuration(_ fixture: GitFixture, path: String = "apps/shop", revision: String = "main") -> URL {
        let file = fixture.root.appendingPathComponent("tributary.yaml")
        let yaml = """
            repositories:
              - url: file://\(fixture.bare.path)
            apps:
              - name: shop
                source: { repoURL: "file://\(fixture.bare.path)", targetRevision: \(revision), path: \(path), substitute: { TAG: "2.0" } }
                destination: { directory: \(fixture.root.path)/out }
            """
        FileManager.default.createFile(atPath: file.path, contents: Data(yaml.utf8))
        return file
    }

    @Test func rendersTheAppAtItsRevisionInApplyOrder() async throws {
        let fixture = try GitFixture()
        let first = try fixture.commit([
            "apps/shop/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: shop, namespace: shop}\nspec: {template: {spec: {containers: [{name: c, image: \"shop:${TAG}\"}]}}}\n",
            "apps/shop/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
        ])
        try fixture.commit(["apps/shop/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: shop, namespace: shop}\n"])
        let config = Self.configuration(fixture)
        let dataDir = fixture.root.appendingPathComponent("data").path

        let head = try await TributaryProcess(["render", "--config", config.path, "--app", "shop", "--data-dir", dataDir]).finish()
        #expect(head.status == 0, "\(head.stderr)")
        let kinds = head.stdout.split(separator: "\n").filter { $0.hasPrefix("kind: ") }
        #expect(kinds == ["kind: Namespace", "kind: Service", "kind: Deployment"])
        #expect(head.stdout.contains("image: \"shop:2.0\""))

        let old = try await TributaryProcess(["render", "--config", config.path, "--app", "shop", "--revision", first, "--data-dir", dataDir]).finish()
        #expect(old.status == 0, "\(old.stderr)")
        #expect(!old.stdout.contains("kind: Service"))

        let output = fixture.root.appendingPathComponent("rendered")
        let written = try await TributaryProcess(["render", "--config", config.path, "--app", "shop", "--output", output.path, "--data-dir", dataDir]).finish()
        #expect(written.status == 0, "\(written.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: output.path).sorted() == ["000-namespace-shop.yaml", "001-service-shop-shop.yaml", "002-deployment-shop-shop.yaml"])
    }

    @Test func diffOfADirectoryAppListsTheFilesASyncWouldWrite() async throws {
        let fixture = try GitFixture()
        try fixture.commit(["apps/shop/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: shop}\n"])
        let result = try await TributaryProcess([
            "diff", "--config", Self.configuration(fixture).path, "--app", "shop", "--data-dir", fixture.root.appendingPathComponent("data").path,
        ]).finish()
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stdout.contains("against directory:\(fixture.root.path)/out\n+ configmap_shop_x.yaml"), "\(result.stdout)")
        #expect(!FileManager.default.fileExists(atPath: fixture.root.appendingPathComponent("out").path))
    }

    @Test func malformedManifestFailsWithFileAndLine() async throws {
        let fixture = try GitFixture()
        try fixture.commit(["apps/shop/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: {}\n"])
        let result = try await TributaryProcess([
            "render", "--config", Self.configuration(fixture).path, "--app", "shop", "--data-dir", fixture.root.appendingPathComponent("data").path,
        ]).finish()
        #expect(result.status != 0)
        #expect(result.stderr.contains("apps/shop/bad.yaml:"))
    }

    @Test func unknownRevisionIsAClearError() async throws {
        let fixture = try GitFixture()
        try fixture.commit(["apps/shop/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"])
        let result = try await TributaryProcess([
            "render", "--config", Self.configuration(fixture, revision: "no-such-branch").path, "--app", "shop",
            "--data-dir", fixture.root.appendingPathComponent("data").path,
        ]).finish()
        #expect(result.status != 0)
        #expect(result.stderr.contains("no-such-branch"))
    }

    @Test func diffShowsWhatASyncToAClusterWouldChangeObjectByObjectWithSecretsMasked() async throws {
        let fixture = try GitFixture()
        let cluster = try KubernetesAPIServer(directory: fixture.root)
        let namespace = "d-\(UUID().uuidString.prefix(8).lowercased())"
        let settings = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n"
        let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {password: hunter2}\n"
        try fixture.commit(["apps/shop/settings.yaml": settings, "apps/shop/secret.yaml": secret, "apps/shop/old.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: old}\n"])
        let config = fixture.root.appendingPathComponent("tributary.yaml")
        try """
            clusters:
              - name: test
                auth: { kubeconfig: { file: "\(cluster.kubeconfig)", context: \(cluster.context) } }
            apps:
              - name: shop
                source: { repoURL: "file://\(fixture.bare.path)", targetRevision: main, path: apps/shop }
                destination: { name: test, namespace: \(namespace) }
                syncPolicy: { automated: { prune: true } }
            """.write(to: config, atomically: true, encoding: .utf8)
        let dataDir = fixture.root.appendingPathComponent("data").path
        let namespaceFile = fixture.root.appendingPathComponent("ns.yaml")
        try "apiVersion: v1\nkind: Namespace\nmetadata: {name: \(namespace)}\n".write(to: namespaceFile, atomically: true, encoding: .utf8)
        try cluster.kubectl(["apply", "--server-side", "-f", namespaceFile.path])

        let fresh = try await TributaryProcess(["render", "--config", config.path, "--app", "shop", "--diff", "--data-dir", dataDir]).finish()
        #expect(fresh.status == 1, "\(fresh.stderr)")
        #expect(fresh.stdout.contains("+ ConfigMap \(namespace)/settings: created"), "\(fresh.stdout)")

        // As a sync would have left it, then the repository moves on.
        let applied = fixture.root.appendingPathComponent("applied.yaml")
        try (settings + "---\n" + secret).replacingOccurrences(of: "name: settings}", with: "name: settings, namespace: \(namespace)}")
            .replacingOccurrences(of: "name: creds}", with: "name: creds, namespace: \(namespace)}")
            .write(to: applied, atomically: true, encoding: .utf8)
        try cluster.kubectl(["apply", "--server-side", "--field-manager=tributary", "-f", applied.path])
        try fixture.commit(["apps/shop/settings.yaml": settings.replacingOccurrences(of: "fast", with: "safe"), "apps/shop/secret.yaml": secret.replacingOccurrences(of: "hunter2", with: "correct-horse")])
        let changed = try await TributaryProcess(["render", "--config", config.path, "--app", "shop", "--diff", "--data-dir", dataDir]).finish()
        #expect(changed.status == 1, "\(changed.stderr)")
        #expect(changed.stdout.contains("~ ConfigMap \(namespace)/settings:\n    .data.mode: \"fast\" → \"safe\""), "\(changed.stdout)")
        #expect(changed.stdout.contains("~ Secret \(namespace)/creds:"))
        #expect(!changed.stdout.contains("hunter2") && !changed.stdout.contains("correct-horse"))
        #expect(!changed.stdout.contains(Data("hunter2".utf8).base64EncodedString()))
    }
}
