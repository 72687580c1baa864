import Testing
import TributaryRender

@Suite("Rendering plain manifests")
struct ManifestRendererTests {
    static func file(_ path: String, _ text: String) -> SourceFile {
        SourceFile(path: path, contents: Array(text.utf8))
    }

    static let app: [SourceFile] = [
        file("apps/shop/deploy.yaml", """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: shop
              namespace: shop
            spec:
              replicas: ${REPLICAS:=2}
              template: {spec: {containers: [{name: shop, image: "shop:${TAG}", env: [{name: LITERAL, value: "$${NOT_SUBSTITUTED}"}]}]}}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: shop, namespace: shop}
            """),
        file("apps/shop/ns.json", #"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}"#),
        file("apps/shop/crd.yml", """
            apiVersion: apiextensions.k8s.io/v1
            kind: CustomResourceDefinition
            metadata: {name: widgets.example.com}
            """),
        file("apps/shop/migrate.yaml", """
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: migrate
              namespace: shop
              annotations: {argocd.argoproj.io/sync-wave: "-1"}
            """),
        file("apps/shop/README.md", "not a manifest"),
        file("apps/shop/extra/config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: shop}\n"),
        file("apps/web/deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"),
    ]

    @Test func ordersByWaveThenKindThenNameAndSubstitutes() throws {
        let manifests = try ManifestRenderer.render(directory: "apps/shop", files: Self.app, options: .init(substitute: ["TAG": "1.4.2"]))
        #expect(manifests.map(\.kind) == ["Job", "Namespace", "CustomResourceDefinition", "Service", "Deployment"])
        #expect(manifests[0].syncWave == -1)
        let deployment = try #require(manifests.last)
        #expect(deployment.yaml.contains("replicas: 2"))
        #expect(deployment.yaml.contains("shop:1.4.2"))
        #expect(deployment.yaml.contains("${NOT_SUBSTITUTED}"))
        #expect(deployment.source == "apps/shop/deploy.yaml:1")
        #expect(manifests[3].source == "apps/shop/deploy.yaml:10")
    }

    @Test func recursionIsOptIn() throws {
        let flat = try ManifestRenderer.render(directory: "apps/shop/", files: Self.app, options: .init(substitute: ["TAG": "x"]))
        #expect(!flat.contains { $0.name == "extra" })
        let deep = try ManifestRenderer.render(directory: "./apps/shop", files: Self.app, options: .init(recurse: true, substitute: ["TAG": "x"]))
        #expect(deep.contains { $0.name == "extra" && $0.kind == "ConfigMap" })
        #expect(!deep.contains { $0.name == "web" })
    }

    @Test func sameInputGivesIdenticalBytes() throws {
        let options = RenderOptions(substitute: ["TAG": "1"])
        let first = try ManifestRenderer.render(directory: "apps/shop", files: Self.app, options: options)
        let second = try ManifestRenderer.render(directory: "apps/shop", files: Self.app.reversed(), options: options)
        #expect(first.map(\.yaml).joined() == second.map(\.yaml).joined())
        #expect(first == second)
    }

    @Test func invalidYAMLNamesFileAndLine() {
        let files = [Self.file("app/bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: [a, b\n")]
        let error = #expect(throws: RenderError.self) { try ManifestRenderer.render(directory: "app", files: files, options: .init()) }
        #expect(error?.file == "app/bad.yaml")
        #expect(error?.line != nil)
        #expect(error?.description.hasPrefix("app/bad.yaml:") == true)
    }

    @Test func missingKindAndNameAreErrorsAtTheirDocument() {
        let files = [Self.file("app/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\napiVersion: v1\nmetadata: {name: nokind}\n")]
        let error = #expect(throws: RenderError.self) { try ManifestRenderer.render(directory: "app", files: files, options: .init()) }
        #expect(error?.message == "missing kind")
        #expect(error?.line == 5)
        let unnamed = [Self.file("app/b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {a: b}}\n")]
        let nameError = #expect(throws: RenderError.self) { try ManifestRenderer.render(directory: "app", files: unnamed, options: .init()) }
        #expect(nameError?.message == "missing metadata.name")
    }

    @Test func duplicateResourceNamesBothPlaces() {
        let files = [
            Self.file("app/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: same, namespace: x}\n"),
            Self.file("app/b.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: same, namespace: x}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: same, namespace: x}\n"),
        ]
        let error = #expect(throws: RenderError.self) { try ManifestRenderer.render(directory: "app", files: files, options: .init()) }
        #expect(error?.file == "app/b.yaml")
        #expect(error?.line == 5)
        #expect(error?.message.contains("app/a.yaml:1") == true)
    }

    @Test func substitutionErrorsNameTheLine() {
        let files = [Self.file("app/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {v: \"${UNSET}\"}\n")]
        let error = #expect(throws: RenderError.self) { try ManifestRenderer.render(directory: "app", files: files, options: .init()) }
        #expect(error?.line == 4)
        #expect(error?.message.contains("UNSET") == true)
    }

    @Test func symlinksMayNotEscapeTheRepository() throws {
        let inside = [
            Self.file("shared/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\n"),
            SourceFile(path: "app/cm.yaml", contents: Array("../shared/cm.yaml".utf8), isSymlink: true),
        ]
        #expect(try ManifestRenderer.render(directory: "app", files: inside, options: .init()).map(\.name) == ["shared"])
        let escaping = [SourceFile(path: "app/cm.yaml", contents: Array("../../etc/passwd".utf8), isSymlink: true)]
        let error = #expect(throws: RenderError.self) { try ManifestRenderer.render(directory: "app", files: escaping, options: .init()) }
        #expect(error?.message == "symlink escapes the repository")
    }

    @Test func kustomizationBelowAPlainDirectoryIsRefusedRatherThanIgnored() throws {
        let files = [
            Self.file("app/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"),
            Self.file("app/sub/kustomization.yaml", "resources: [b.yaml]\n"),
            Self.file("app/sub/b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"),
        ]
        let error = #expect(throws: RenderError.self) { try ManifestRenderer.render(directory: "app", files: files, options: .init(recurse: true)) }
        #expect(error?.file == "app/sub/kustomization.yaml")
        #expect(try ManifestRenderer.render(directory: "app", files: files, options: .init()).map(\.name) == ["a"])
    }
}
