import Testing
@testable import TributaryRender

/// Argo CD's `source.kustomize` options, applied as `kustomize edit` applies them.
@Suite("Kustomize options from the app")
struct KustomizeOptionsTests {
    static let files: [SourceFile] = [
        SourceFile(path: "apps/web/kustomization.yaml", contents: Array("""
            resources: [deployment.yaml]
            commonLabels: {team: platform}
            images: [{name: nginx, newTag: "1.25"}]
            """.utf8)),
        SourceFile(path: "apps/web/deployment.yaml", contents: Array("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web, namespace: old}
            spec:
              replicas: 1
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec: {containers: [{name: web, image: nginx}]}
            """.utf8)),
    ]

    @Test func prefixImagesLabelsReplicasNamespaceAndPatchesApplyToTheKustomization() throws {
        var options = KustomizeOptions()
        options.namePrefix = "prod-"
        options.namespace = "shop"
        options.images = ["nginx=registry.example:5000/mirror/nginx:1.27"]
        options.commonLabels = ["env": "prod"]
        options.commonAnnotations = ["owner": "platform"]
        options.replicas = [.init(name: "web", count: 3)]
        options.patches = ["target: {kind: Deployment}\npatch: |\n  apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: web, annotations: {patched: 'yes'}}\n"]
        let manifests = try ManifestRenderer.render(directory: "apps/web", files: Self.files, options: RenderOptions(kustomize: options))
        let deployment = try #require(manifests.first)
        #expect(deployment.name == "prod-web")
        #expect(deployment.namespace == "shop")
        let yaml = deployment.yaml
        for expected in ["image: registry.example:5000/mirror/nginx:1.27", "replicas: 3", "env: prod", "team: platform", "owner: platform", "patched: \"yes\""] {
            #expect(yaml.contains(expected), "\(expected) in \(yaml)")
        }
    }

    @Test func aLabelTheKustomizationSetsIsReplacedOnlyWithForce() throws {
        var options = KustomizeOptions()
        options.commonLabels = ["team": "payments"]
        let error = #expect(throws: RenderError.self) { try ManifestRenderer.render(directory: "apps/web", files: Self.files, options: RenderOptions(kustomize: options)) }
        #expect(error?.file == "apps/web/kustomization.yaml")
        #expect(error?.message == "commonLabels.team is already platform in the kustomization; set forceCommonLabels to replace it with payments")
        options.forceCommonLabels = true
        let forced = try ManifestRenderer.render(directory: "apps/web", files: Self.files, options: RenderOptions(kustomize: options))
        #expect(forced.first?.yaml.contains("team: payments") == true)
    }

    @Test func optionsWithoutAKustomizationAreAnError() {
        var options = KustomizeOptions()
        options.namePrefix = "x-"
        let error = #expect(throws: RenderError.self) {
            try ManifestRenderer.render(directory: "apps/web", files: [Self.files[1]], options: RenderOptions(kustomize: options))
        }
        #expect(error?.message == "kustomize options need a kustomization.yaml in the app's path")
    }

    @Test(arguments: [
        ("nginx=registry.example:5000/nginx:1.27", "nginx", "registry.example:5000/nginx", "1.27", nil),
        ("nginx:1.27", "nginx", nil, "1.27", nil),
        ("registry.example:5000/nginx@sha256:abc", "registry.example:5000/nginx", nil, nil, "sha256:abc"),
        ("nginx=mirror/nginx", "nginx", "mirror/nginx", nil, nil),
    ] as [(String, String, String?, String?, String?)])
    func imagesReadAsKustomizeEditSetImageReadsThem(argument: String, name: String, newName: String?, tag: String?, digest: String?) throws {
        let image = try KustomizationEdit.image(argument, file: "k")
        #expect(image.name == name && image.newName == newName && image.newTag == tag && image.digest == digest)
    }
}
