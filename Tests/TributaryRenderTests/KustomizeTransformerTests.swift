import Testing
import TributaryRender

/// One transformer or generator at a time. Each fixture was also run through `kubectl kustomize`
/// (Kustomize v5.5.0): the expected values are what it printed.
@Suite("Kustomize transformers and generators")
struct KustomizeTransformerTests {
    @Test func strategicMergeOrdersListsAsKubernetesDoes() throws {
        let files = [
            KustomizeTests.file("app/kustomization.yaml", """
                resources: [d.yaml]
                patches:
                - patch: |-
                    apiVersion: apps/v1
                    kind: Deployment
                    metadata: {name: web}
                    spec:
                      template:
                        spec:
                          containers:
                          - {name: b, image: b2}
                          - {name: c, image: c}
                          - {name: a, $patch: delete}
                """),
            KustomizeTests.file("app/d.yaml", """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: web}
                spec:
                  template:
                    spec:
                      containers:
                      - {name: a, image: a}
                      - {name: b, image: b, args: [--x]}
                      - {name: d, image: d}
                """),
        ]
        let yaml = try #require(try KustomizeTests.render("app", files).first?.yaml)
        #expect(yaml.contains("""
                  containers:
                  - args:
                    - --x
                    image: b2
                    name: b
                  - image: c
                    name: c
                  - image: d
                    name: d
            """))
    }

    @Test func json6902PatchAppliesOnlyToItsTarget() throws {
        let files = [
            KustomizeTests.file("app/kustomization.yaml", """
                resources: [d.yaml]
                patches:
                - target: {group: apps, kind: Deployment, labelSelector: "tier in (web,api),!legacy"}
                  patch: |-
                    - op: add
                      path: /spec/template/spec/containers/0/args/-
                      value: --verbose
                    - op: add
                      path: /metadata/annotations/a~1b
                      value: "x~y"
                    - op: test
                      path: /spec/replicas
                      value: 2
                """),
            KustomizeTests.file("app/d.yaml", """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: web, labels: {tier: web}, annotations: {keep: "1"}}
                spec: {replicas: 2, template: {spec: {containers: [{name: web, image: web, args: [--a]}]}}}
                ---
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: old, labels: {tier: web, legacy: "true"}}
                spec: {replicas: 2, template: {spec: {containers: [{name: old, image: old, args: [--a]}]}}}
                """),
        ]
        let manifests = try KustomizeTests.render("app", files)
        let web = try #require(manifests.first { $0.name == "web" })
        let old = try #require(manifests.first { $0.name == "old" })
        #expect(web.yaml.contains("- --a\n        - --verbose\n"))
        #expect(web.yaml.contains("a/b: x~y"))
        #expect(!old.yaml.contains("--verbose"))
    }

    @Test func imagesSetNameTagAndDigestOnContainersAndInitContainers() throws {
        let files = [
            KustomizeTests.file("app/kustomization.yaml", """
                resources: [p.yaml]
                images:
                - {name: example.com:5000/tools/migrate, newName: registry.internal/migrate}
                - {name: busybox, digest: "sha256:deadbeef"}
                - {name: nginx, newName: mirror/nginx, newTag: "1.27"}
                """),
            KustomizeTests.file("app/p.yaml", """
                apiVersion: v1
                kind: Pod
                metadata: {name: p}
                spec:
                  initContainers: [{name: m, image: "example.com:5000/tools/migrate:v1@sha256:1111"}]
                  containers:
                  - {name: a, image: "busybox:1.36"}
                  - {name: b, image: nginx}
                  - {name: c, image: nginx-unrelated:1}
                """),
        ]
        let yaml = try #require(try KustomizeTests.render("app", files).first?.yaml)
        #expect(yaml.contains("image: registry.internal/migrate:v1@sha256:1111"))
        #expect(yaml.contains("image: busybox@sha256:deadbeef"))
        #expect(yaml.contains("image: mirror/nginx:1.27"))
        #expect(yaml.contains("image: nginx-unrelated:1"))
    }

    @Test func secretGeneratorReadsEnvFilesAndFilesWithKustomizesHash() throws {
        let files = [
            KustomizeTests.file("app/kustomization.yaml", """
                secretGenerator:
                - name: creds
                  literals: [password=s3cret]
                  envs: [app.env]
                  files: [cfg.txt, renamed=cfg.txt]
                - name: tls
                  type: kubernetes.io/tls
                  literals: [tls.crt=x, tls.key=y]
                  options: {disableNameSuffixHash: true}
                configMapGenerator:
                - name: bin
                  files: [blob.bin]
                """),
            KustomizeTests.file("app/app.env", "# comment\nA=1\n  B=\"quoted\"\nC=x=y\n\n"),
            KustomizeTests.file("app/cfg.txt", "line1\nline2\n"),
            SourceFile(path: "app/blob.bin", contents: [0xFF, 0xFE, 0x00, 0x62, 0x69, 0x6E]),
        ]
        let manifests = try KustomizeTests.render("app", files)
        #expect(manifests.map(\.name).sorted() == ["bin-fdmfcm288f", "creds-t292fm2tbg", "tls"])
        let creds = try #require(manifests.first { $0.name.hasPrefix("creds") })
        #expect(creds.yaml.contains("B: InF1b3RlZCI=\n"))
        #expect(creds.yaml.contains("type: Opaque"))
        #expect(manifests.first { $0.name == "tls" }?.yaml.contains("type: kubernetes.io/tls") == true)
        #expect(manifests.first { $0.name.hasPrefix("bin") }?.yaml.contains("binaryData:\n  blob.bin: //4AYmlu\n") == true)
    }

    @Test func namespaceSkipsClusterScopedKindsAndFollowsServiceAccountSubjects() throws {
        let files = [
            KustomizeTests.file("app/kustomization.yaml", "namespace: team\nnamePrefix: x-\nresources: [r.yaml]\n"),
            KustomizeTests.file("app/r.yaml", """
                apiVersion: v1
                kind: ServiceAccount
                metadata: {name: sa}
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: ClusterRoleBinding
                metadata: {name: crb}
                roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
                subjects: [{kind: ServiceAccount, name: sa, namespace: default}]
                ---
                apiVersion: apiextensions.k8s.io/v1
                kind: CustomResourceDefinition
                metadata: {name: widgets.example.com}
                """),
        ]
        let manifests = try KustomizeTests.render("app", files)
        let binding = try #require(manifests.first { $0.kind == "ClusterRoleBinding" })
        #expect(binding.namespace == "")
        #expect(binding.name == "x-crb")
        #expect(binding.yaml.contains("- kind: ServiceAccount\n  name: x-sa\n  namespace: team\n"))
        #expect(binding.yaml.contains("name: view\n"))
        let crd = try #require(manifests.first { $0.kind == "CustomResourceDefinition" })
        #expect(crd.namespace == "" && crd.name == "widgets.example.com")
    }
}
