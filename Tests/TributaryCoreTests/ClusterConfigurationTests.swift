import Foundation
import Testing
import TributaryCore

@Suite("Clusters in the configuration")
struct ClusterConfigurationTests {
    static let clusters = """
        clusters:
          - name: prod
            server: https://prod.example:6443
            auth: { token: { file: /var/run/tokens/prod }, caFile: /etc/prod-ca.pem }
          - name: staging
            auth: { kubeconfig: { file: /etc/kubeconfig, context: staging } }
            inventoryNamespace: gitops
          - name: local
            auth: { inCluster: true }
          - name: edge
            server: https://edge.example
            auth: { clientCertificate: { certFile: /etc/edge.crt, keyFile: /etc/edge.key } }

        """

    @Test func appsNameTheirClusterByNameOrServerWithArgoCDsSyncOptions() throws {
        let yaml = Self.clusters + """
            apps:
              - name: web
                source: { repoURL: https://h/o/r.git, path: web }
                destination: { name: prod, namespace: web }
                syncPolicy:
                  automated: { prune: true, selfHeal: true }
                  syncOptions: [CreateNamespace=true, PrunePropagationPolicy=background, ForceConflicts=false, ServerSideApply=true]
                  waitForHealth: 2m
                ignoreDifferences:
                  - { group: apps, kind: Deployment, jsonPointers: [/spec/replicas] }
              - name: api
                source: { repoURL: https://h/o/r.git }
                destination: { server: https://edge.example, namespace: api }
                driftIgnoreRules:
                  - paths: [/spec/replicas]
                    target: { kind: Deployment }
                  - paths: [/metadata/annotations/last-seen]
            """
        let configuration = try TributaryConfiguration.parse(yaml: yaml, file: "c.yaml")
        #expect(configuration.clusters.map(\.name) == ["prod", "staging", "local", "edge"])
        #expect(configuration.cluster(named: "staging")?.inventoryNamespace == "gitops")
        #expect(configuration.cluster(named: "prod")?.inventoryNamespace == "tributary-system")
        let web = try #require(configuration.app(named: "web"))
        #expect(web.cluster == "prod")
        #expect(web.destination.description == "kubernetes:prod/web")
        #expect(web.syncPolicy.options.createNamespace)
        #expect(!web.syncPolicy.options.force)
        #expect(web.syncPolicy.options.prunePropagationPolicy == "Background")
        #expect(web.syncPolicy.waitForHealth == .seconds(120))
        #expect(web.ignoreDifferences.first?.jsonPointers == ["/spec/replicas"])
        let api = try #require(configuration.app(named: "api"))
        #expect(api.cluster == "edge")
        #expect(api.destination.description == "kubernetes:edge/api")
        #expect(api.ignoreDifferences.map(\.kind) == ["Deployment", nil])
        #expect(api.ignoreDifferences.map(\.group) == [nil, nil])
        #expect(configuration.clusterNames == ["edge", "prod"])
    }

    @Test func errorsNameFileLineAndKey() {
        func error(_ yaml: String) -> ConfigurationError? {
            #expect(throws: ConfigurationError.self) { try TributaryConfiguration.parse(yaml: yaml, file: "c.yaml") }
        }
        let unknownCluster = error(Self.clusters + "apps:\n  - name: a\n    source: {repoURL: https://h/o/r.git}\n    destination: {name: nope, namespace: a}\n")
        #expect(unknownCluster?.key == "apps.a.destination")
        #expect(unknownCluster?.message == "no cluster named nope; declared: prod, staging, local, edge")
        #expect(unknownCluster?.line == 14)
        let unknownServer = error(Self.clusters + "apps:\n  - name: a\n    source: {repoURL: https://h/o/r.git}\n    destination: {server: https://other, namespace: a}\n")
        #expect(unknownServer?.message == "no cluster has server https://other; give the cluster's name instead")
        let badOption = error(Self.clusters + "apps:\n  - name: a\n    source: {repoURL: https://h/o/r.git}\n    destination: {name: prod}\n    syncPolicy: {syncOptions: [Replace=true]}\n")
        #expect(badOption?.key == "apps[0].syncPolicy.syncOptions[0]")
        #expect(badOption?.message.hasPrefix("unknown sync option Replace=true") == true)
        let twoAuths = error("clusters:\n  - name: a\n    server: https://a\n    auth: {inCluster: true, token: {env: T}}\n")
        #expect(twoAuths?.key == "clusters[0].auth")
        #expect(twoAuths?.line == 4)
        let noServer = error("clusters:\n  - name: a\n    auth: {token: {env: T}}\n")
        #expect(noServer?.message == "a cluster with token or clientCertificate auth needs server")
        let credentialsInURL = error("clusters:\n  - name: a\n    server: https://user:pw@a\n    auth: {token: {env: T}}\n")
        #expect(credentialsInURL?.key == "clusters[0].server")
        #expect(credentialsInURL?.message.contains("pw") == false)
        let namespaceOnDirectory = error("apps:\n  - name: a\n    source: {repoURL: https://h/o/r.git}\n    destination: {directory: /x, namespace: a}\n")
        #expect(namespaceOnDirectory?.message == "namespace belongs to a Kubernetes destination, not a directory or git one")
    }

    @Test func projectDestinationsMatchClustersAndNamespacesLikeAnAppProject() throws {
        let yaml = Self.clusters + """
            projects:
              - name: team
                sourceRepos: ["*"]
                destinations:
                  - { name: prod, namespace: "team-*" }
                  - { server: "https://edge.*", namespace: "*" }
                  - "kubernetes:staging/ops"
            """
        let project = try #require(try TributaryConfiguration.parse(yaml: yaml, file: "c.yaml").project(named: "team"))
        #expect(project.clusterDestinations.count == 2)
        #expect(project.clusterDestinations[0].allows(name: "prod", server: "https://prod.example:6443", namespace: "team-a"))
        #expect(!project.clusterDestinations[0].allows(name: "prod", server: nil, namespace: "kube-system"))
        #expect(!project.clusterDestinations[0].allows(name: "staging", server: nil, namespace: "team-a"))
        #expect(project.clusterDestinations[1].allows(name: "edge", server: "https://edge.example", namespace: "x"))
        #expect(project.destinations.map(\.pattern) == ["kubernetes:staging/ops"])
        // As in Argo CD, `*` matches anything, `/` included: `sourceRepos: ["*"]` allows every repository.
        #expect(project.sourceRepos.first?.matches("https://git.example.com/acme/infra.git") == true)
    }
}

extension ClusterConfigurationTests {
    @Test func plainHTTPIsForLoopbackOnly() throws {
        let remote = #expect(throws: ConfigurationError.self) {
            try TributaryConfiguration.parse(yaml: "clusters:\n  - name: a\n    server: http://k8s.example.com\n    auth: {token: {env: T}}\n", file: "c.yaml")
        }
        #expect(remote?.key == "clusters[0].server")
        #expect(remote?.message.hasPrefix("http:// would send the credentials in clear") == true)
        #expect(try TributaryConfiguration.parse(yaml: "clusters:\n  - name: a\n    server: http://127.0.0.1:8001\n    auth: {token: {env: T}}\n", file: "c.yaml").clusters.count == 1)
    }
}

extension ClusterConfigurationTests {
    @Test func projectResourceListsFollowArgoCD() throws {
        let yaml = """
            projects:
              - name: open
                sourceRepos: ["*"]
                destinations: ["**"]
              - name: tight
                sourceRepos: ["*"]
                destinations: ["**"]
                clusterResourceWhitelist: []
                namespaceResourceWhitelist: [{ group: "*", kind: "*" }]
                namespaceResourceBlacklist: [{ group: "", kind: Secret }]
            """
        let configuration = try TributaryConfiguration.parse(yaml: yaml, file: "c.yaml")
        let open = try #require(configuration.project(named: "open"))
        #expect(open.refusal(group: "", kind: "Namespace", clusterScoped: true) == nil)  // a native project without lists allows every kind
        let tight = try #require(configuration.project(named: "tight"))
        #expect(tight.refusal(group: "", kind: "Namespace", clusterScoped: true) == "project tight does not allow cluster-scoped Namespace (not in clusterResourceWhitelist)")
        #expect(tight.refusal(group: "", kind: "Secret", clusterScoped: false) == "project tight does not allow Secret (namespaceResourceBlacklist)")
        #expect(tight.refusal(group: "", kind: "ConfigMap", clusterScoped: false) == nil)
    }
}
