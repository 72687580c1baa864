import Testing
import TributaryRender

/// Expected outputs here were produced by `kubectl kustomize` (Kustomize v5.5.0) on the same files.
@Suite("Rendering kustomizations")
struct KustomizeTests {
    static func file(_ path: String, _ text: String) -> SourceFile {
        SourceFile(path: path, contents: Array(text.utf8))
    }

    static func render(_ directory: String, _ files: [SourceFile], substitute: [String: String] = [:]) throws -> [Manifest] {
        try ManifestRenderer.render(directory: directory, files: files, options: .init(substitute: substitute))
    }

    static func renderError(_ directory: String, _ files: [SourceFile]) -> RenderError? {
        #expect(throws: RenderError.self) { try Self.render(directory, files) }
    }

    static let base: [SourceFile] = [
        file("apps/shop/base/kustomization.yaml", """
            resources:
              - deployment.yaml
              - service.yaml
            configMapGenerator:
              - name: shop-config
                literals:
                  - MODE=production
                  - LEVEL=info
            """),
        file("apps/shop/base/deployment.yaml", """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: shop
              labels: {app: shop}
            spec:
              replicas: 1
              selector:
                matchLabels: {app: shop}
              template:
                metadata:
                  labels: {app: shop}
                spec:
                  containers:
                    - name: shop
                      image: shop:1.0
                      envFrom:
                        - configMapRef: {name: shop-config}
                      resources:
                        limits: {memory: 256Mi}
                    - name: proxy
                      image: envoy:1.0
            """),
        file("apps/shop/base/service.yaml", """
            apiVersion: v1
            kind: Service
            metadata:
              name: shop
            spec:
              selector: {app: shop}
              ports:
                - port: 80
            """),
        file("README.md", "not part of any app"),
    ]

    static let overlay = base + [
        file("apps/shop/overlays/prod/kustomization.yaml", """
            resources:
              - ../../base
            namespace: shop-prod
            namePrefix: prod-
            commonLabels:
              env: prod
            images:
              - name: shop
                newTag: "2.0"
            secretGenerator:
              - name: shop-db
                literals:
                  - PASSWORD=hunter2
            patches:
              - patch: |-
                  apiVersion: apps/v1
                  kind: Deployment
                  metadata:
                    name: shop
                  spec:
                    template:
                      spec:
                        containers:
                          - name: shop
                            resources: null
                            env:
                              - name: DB_PASSWORD
                                valueFrom:
                                  secretKeyRef: {name: shop-db, key: PASSWORD}
              - target:
                  kind: Deployment
                  name: sh.*
                patch: |-
                  - op: replace
                    path: /spec/replicas
                    value: 3
            """),
    ]

    @Test func overlayOutputIsByteIdenticalToKubectlKustomize() throws {
        let manifests = try Self.render("apps/shop/overlays/prod", Self.overlay)
        #expect(manifests.map(\.kind) == ["Secret", "ConfigMap", "Service", "Deployment"])
        let byKind = Dictionary(uniqueKeysWithValues: manifests.map { ($0.kind, $0) })
        #expect(byKind["Deployment"]?.yaml == """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              labels:
                app: shop
                env: prod
              name: prod-shop
              namespace: shop-prod
            spec:
              replicas: 3
              selector:
                matchLabels:
                  app: shop
                  env: prod
              template:
                metadata:
                  labels:
                    app: shop
                    env: prod
                spec:
                  containers:
                  - env:
                    - name: DB_PASSWORD
                      valueFrom:
                        secretKeyRef:
                          key: PASSWORD
                          name: prod-shop-db-9279h2tbm8
                    envFrom:
                    - configMapRef:
                        name: prod-shop-config-8mghm74g42
                    image: shop:2.0
                    name: shop
                  - image: envoy:1.0
                    name: proxy

            """)
        #expect(byKind["ConfigMap"]?.yaml == """
            apiVersion: v1
            data:
              LEVEL: info
              MODE: production
            kind: ConfigMap
            metadata:
              labels:
                env: prod
              name: prod-shop-config-8mghm74g42
              namespace: shop-prod

            """)
        #expect(byKind["Secret"]?.yaml == """
            apiVersion: v1
            data:
              PASSWORD: aHVudGVyMg==
            kind: Secret
            metadata:
              labels:
                env: prod
              name: prod-shop-db-9279h2tbm8
              namespace: shop-prod
            type: Opaque

            """)
        #expect(byKind["Service"]?.yaml.contains("selector:\n    app: shop\n    env: prod\n") == true)
    }

    @Test func resourcesKeepTheirSourceAndGeneratedOnesPointAtTheirGenerator() throws {
        let manifests = try Self.render("apps/shop/overlays/prod", Self.overlay)
        let byKind = Dictionary(uniqueKeysWithValues: manifests.map { ($0.kind, $0) })
        #expect(byKind["Deployment"]?.source == "apps/shop/base/deployment.yaml:1")
        #expect(byKind["ConfigMap"]?.source == "apps/shop/base/kustomization.yaml:5")
        #expect(byKind["Secret"]?.source == "apps/shop/overlays/prod/kustomization.yaml:11")
        #expect(byKind["Deployment"]?.namespace == "shop-prod")
        #expect(byKind["Deployment"]?.name == "prod-shop")
    }

    @Test func baseRendersOnItsOwnWithItsUnprefixedHash() throws {
        let manifests = try Self.render("apps/shop/base", Self.base)
        #expect(manifests.map(\.name).sorted() == ["shop", "shop", "shop-config-8mghm74g42"])
        let deployment = try #require(manifests.first { $0.kind == "Deployment" })
        #expect(deployment.yaml.contains("name: shop-config-8mghm74g42"))
        #expect(deployment.yaml.contains("memory: 256Mi"))
    }

    @Test func sameTreeGivesIdenticalBytes() throws {
        let first = try Self.render("apps/shop/overlays/prod", Self.overlay)
        let second = try Self.render("apps/shop/overlays/prod", Self.overlay.reversed())
        #expect(first == second)
        #expect(first.map(\.yaml).joined() == second.map(\.yaml).joined())
    }

    @Test func substitutionAppliesToTheBuiltOutput() throws {
        var files = Self.base
        files[1] = Self.file("apps/shop/base/deployment.yaml", String(decoding: files[1].contents, as: UTF8.self).replacingOccurrences(of: "shop:1.0", with: "shop:${TAG:=dev}"))
        let defaulted = try Self.render("apps/shop/base", files)
        #expect(defaulted.first { $0.kind == "Deployment" }?.yaml.contains("image: shop:dev") == true)
        let tagged = try Self.render("apps/shop/base", files, substitute: ["TAG": "1.4.2"])
        #expect(tagged.first { $0.kind == "Deployment" }?.yaml.contains("image: shop:1.4.2") == true)
        files[1] = Self.file("apps/shop/base/deployment.yaml", String(decoding: files[1].contents, as: UTF8.self).replacingOccurrences(of: "${TAG:=dev}", with: "${TAG}"))
        let error = Self.renderError("apps/shop/base", files)
        #expect(error?.file == "apps/shop/base/deployment.yaml")
        #expect(error?.message.contains("TAG") == true)
    }

    @Test func unsupportedFieldIsAnErrorNamingFieldFileAndLine() {
        let files = [Self.file("app/kustomization.yaml", "resources: []\nhelmCharts:\n- name: redis\n")]
        let error = Self.renderError("app", files)
        #expect(error?.file == "app/kustomization.yaml")
        #expect(error?.line == 2)
        #expect(error?.message.contains("'helmCharts'") == true)
        let nested = [Self.file("app/kustomization.yaml", "images:\n- name: a\n  tagSuffix: x\n")]
        #expect(Self.renderError("app", nested)?.message.contains("images[].tagSuffix") == true)
    }

    @Test func resourceOrSymlinkEscapingTheRepositoryIsAnError() {
        let escaping = [Self.file("apps/a/kustomization.yaml", "resources:\n- ../../../etc/passwd\n")]
        let error = Self.renderError("apps/a", escaping)
        #expect(error?.file == "apps/a/kustomization.yaml")
        #expect(error?.line == 2)
        #expect(error?.message.contains("escapes the repository") == true)
        let symlinked = [
            Self.file("apps/a/kustomization.yaml", "resources: [base]\n"),
            SourceFile(path: "apps/a/base", contents: Array("../../../outside".utf8), isSymlink: true),
        ]
        #expect(Self.renderError("apps/a", symlinked)?.message.contains("escapes the repository") == true)
        let insideRepository = [
            Self.file("apps/a/kustomization.yaml", "resources: [base]\n"),
            SourceFile(path: "apps/a/base", contents: Array("../../shared/base".utf8), isSymlink: true),
            Self.file("shared/base/kustomization.yaml", "resources: [cm.yaml]\n"),
            Self.file("shared/base/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\n"),
        ]
        #expect((try? Self.render("apps/a", insideRepository))?.map(\.name) == ["shared"])
    }

    @Test func remoteResourcesAndDirectoriesWithoutKustomizationAreErrors() {
        let remote = [Self.file("app/kustomization.yaml", "resources:\n- https://github.com/example/repo//base?ref=v1\n")]
        #expect(Self.renderError("app", remote)?.message.contains("remote resource") == true)
        let bare = [Self.file("app/kustomization.yaml", "resources: [sub]\n"), Self.file("app/sub/cm.yaml", "kind: x\n")]
        #expect(Self.renderError("app", bare)?.message.contains("has no kustomization file") == true)
        let missing = [Self.file("app/kustomization.yaml", "resources: [nope.yaml]\n")]
        #expect(Self.renderError("app", missing)?.message.contains("not found") == true)
    }

    @Test func patchMatchingNothingIsAnError() {
        let files = [
            Self.file("app/kustomization.yaml", """
                resources: [cm.yaml]
                patches:
                - patch: |-
                    apiVersion: v1
                    kind: ConfigMap
                    metadata: {name: nope}
                    data: {a: b}
                """),
            Self.file("app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"),
        ]
        let error = Self.renderError("app", files)
        #expect(error?.file == "app/kustomization.yaml")
        #expect(error?.line == 3)
        #expect(error?.message.contains("no resource matches") == true)
    }

    @Test func duplicateResourcesAcrossBasesAreRefused() {
        let files = [
            Self.file("app/kustomization.yaml", "resources: [a.yaml, b.yaml]\n"),
            Self.file("app/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: same}\n"),
            Self.file("app/b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: same}\n"),
        ]
        #expect(Self.renderError("app", files)?.message.contains("duplicate resource") == true)
    }
}
