import Foundation
import Testing
import TributaryCore
import TributaryTestSupport
@testable import TributarySync

/// The cluster target against a Kubernetes API over HTTPS: the stand-in, or a real cluster when
/// `TRIBUTARY_TEST_KUBECONTEXT` is set (tests that need the stand-in's control endpoints skip then).
/// One at a time: each starts a Python API server, and a dozen at once starve the Kafka tests
/// running beside them on a 2-core machine.
@Suite("Kubernetes target", .serialized, .timeLimit(.minutes(3)))
struct KubernetesTargetTests {
    let fixture: SyncFixture
    let cluster: KubernetesAPIServer
    /// A namespace of this test's own, so a real cluster can run the suite repeatedly.
    let namespace: String

    init() throws {
        self.fixture = try SyncFixture()
        self.cluster = try KubernetesAPIServer(directory: self.fixture.git.root)
        self.namespace = "t-\(UUID().uuidString.prefix(8).lowercased())"
    }

    var clusters: String {
        """
        clusters:
          - name: test
            auth: { kubeconfig: { file: "\(self.cluster.kubeconfig)", context: \(self.cluster.context) } }

        """
    }

    func app(_ name: String, options: [String] = ["CreateNamespace=true"], selfHeal: Bool = false, waitForHealth: String? = nil, extra: String = "") -> String {
        """
          - name: \(name)
            source: { repoURL: "\(self.fixture.repoURL)", targetRevision: main, path: apps/\(name) }
            destination: { name: test, namespace: \(self.namespace) }
            syncPolicy:
              automated: { prune: true, selfHeal: \(selfHeal) }
              syncOptions: [\(options.joined(separator: ", "))]
              retry: { limit: 0 }
              interval: 1h
        \(waitForHealth.map { "      waitForHealth: \($0)" } ?? "")
        \(extra)
        """
    }

    func engine(_ apps: [String]) throws -> (SyncEngine, TributaryConfiguration) {
        let configuration = try TributaryConfiguration.parse(yaml: self.clusters + "apps:\n" + apps.joined(separator: "\n"), file: "test.yaml")
        return (try self.fixture.engine(configuration), configuration)
    }

    static func deployment(_ name: String, replicas: Int? = 2, image: String = "nginx:1.27", wave: Int? = nil) -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: \(name)
        \(wave.map { "  annotations: { argocd.argoproj.io/sync-wave: \"\($0)\" }" } ?? "")
        spec:
        \(replicas.map { "  replicas: \($0)" } ?? "")
          selector:
            matchLabels: { app: \(name) }
          template:
            metadata:
              labels: { app: \(name) }
            spec:
              containers:
                - name: \(name)
                  image: \(image)

        """
    }

    static let service = """
        apiVersion: v1
        kind: Service
        metadata:
          name: web
        spec:
          selector: { app: web }
          ports:
            - port: 80

        """

    static func configMap(_ name: String, _ value: String = "1", wave: Int? = nil) -> String {
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: \(name)
        \(wave.map { "  annotations: { argocd.argoproj.io/sync-wave: \"\($0)\" }" } ?? "")
        data:
          value: "\(value)"

        """
    }

    @Test func aPushSyncsIntoANewNamespaceAndALaterPushPrunesOnlyWhatTheAppStillOwns() async throws {
        let first = try self.fixture.git.commit([
            "apps/web/deployment.yaml": Self.deployment("web"),
            "apps/web/service.yaml": Self.service,
            "apps/web/settings.yaml": Self.configMap("settings"),
            "apps/web/shared.yaml": Self.configMap("shared"),
        ])
        let (engine, _) = try self.engine([self.app("web")])
        let synced = try #require(await engine.handle(self.fixture.change(after: first), id: "c1").first)
        #expect(synced.phase == .succeeded, "\(synced.message ?? "")")
        #expect(synced.resources == .init(created: 4))
        #expect(synced.destination == "kubernetes:test/\(self.namespace)")
        #expect(synced.health?.status == "Progressing")
        #expect(try self.cluster.get("namespace", self.namespace) != nil)
        let deployment = try #require(try self.cluster.get("deployment", "web", namespace: self.namespace))
        let annotations = (deployment["metadata"] as? [String: Any])?["annotations"] as? [String: String]
        #expect(annotations?["tributary.dev/tracking-id"] == "web:apps/Deployment:\(self.namespace)/web")
        let inventory = try #require(try self.cluster.get("configmap", "tributary-inventory-web", namespace: "tributary-system"))
        let data = try #require(inventory["data"] as? [String: String])
        #expect(data["revision"] == first)
        #expect(data["objects"]?.contains("\"name\":\"settings\"") == true)

        // Another app has taken `shared` over since: web no longer owns it, whatever its inventory says.
        try self.cluster.kubectl(["annotate", "configmap", "shared", "-n", self.namespace, "--overwrite", "tributary.dev/tracking-id=other:/ConfigMap:\(self.namespace)/shared"])
        if self.cluster.isStandIn { try self.cluster.clearRequests() }
        let second = try self.fixture.git.commit(["apps/web/settings.yaml": nil, "apps/web/shared.yaml": nil])
        let pruned = try #require(await engine.handle(self.fixture.change(after: second, before: first), id: "c2").first)
        #expect(pruned.phase == .succeeded, "\(pruned.message ?? "")")
        #expect(pruned.resources == .init(unchanged: 2, pruned: 1))
        #expect(try self.cluster.get("configmap", "settings", namespace: self.namespace) == nil)
        #expect(try self.cluster.get("configmap", "shared", namespace: self.namespace) != nil)
        #expect(try self.cluster.get("deployment", "web", namespace: self.namespace) != nil)
        let after = try #require(try self.cluster.get("configmap", "tributary-inventory-web", namespace: "tributary-system"))
        #expect((after["data"] as? [String: String])?["objects"]?.contains("shared") == false)
        if self.cluster.isStandIn {
            let requests = try self.cluster.requests()
            let deletes = requests.filter { ($0["method"] as? String) == "DELETE" }
            #expect(deletes.count == 1)
            #expect(deletes.first?["propagationPolicy"] as? String == "Foreground")
            // The inventory is written before any object is applied, and again at the end.
            let writes = requests.filter { ["PATCH", "DELETE"].contains($0["method"] as? String) && ($0["dryRun"] as? Bool) != true }.compactMap { $0["path"] as? String }
            #expect(writes.first == "/api/v1/namespaces/tributary-system/configmaps/tributary-inventory-web", "\(writes)")
            #expect(writes.last == "/api/v1/namespaces/tributary-system/configmaps/tributary-inventory-web")
            #expect(writes.count > 2)
        }
    }

    @Test func aHelmChartRendersThroughHelmTemplateWithTheDestinationsVersions() async throws {
        let commit = try self.fixture.git.commit([
            "charts/shop/Chart.yaml": "apiVersion: v2\nname: shop\nversion: 1.0.0\n",
            "charts/shop/templates/settings.yaml": "# rendered by the stand-in\n",
            "charts/shop/values-prod.yaml": "tier: gold\n",
            "charts/common/values.yaml": "team: platform\n",
        ])
        let record = self.fixture.git.root.appendingPathComponent("helm-record.json").path
        setenv("HELM_STANDIN_RECORD", record, 1)
        setenv("TRIBUTARY_TEST_WORKER_SECRET", "s3cret-worker-value", 1)
        defer { unsetenv("TRIBUTARY_TEST_WORKER_SECRET") }
        let helm = """
            helm: { command: "\(HelmStandIn.path)", passEnvironment: [HELM_STANDIN_RECORD], timeout: 60s }

            """
        let app = self.app("shop").replacingOccurrences(
            of: "path: apps/shop }",
            with: """
                path: charts/shop, helm: { valueFiles: [values-prod.yaml, ../common/values.yaml, missing.yaml], ignoreMissingValueFiles: true, \
                valuesObject: { replicas: 3 }, parameters: [{ name: image.tag, value: "1.2,3" }, { name: debug, value: "true", forceString: true }] } }
                """
        )
        let configuration = try TributaryConfiguration.parse(yaml: self.clusters + helm + "apps:\n" + app, file: "test.yaml")
        let engine = try self.fixture.engine(configuration)
        let synced = try #require(await engine.handle(self.fixture.change(after: commit), id: "c1").first)
        #expect(synced.phase == .succeeded, "\(synced.message ?? "")")

        let recorded = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: record))) as? [String: Any])
        let arguments = try #require(recorded["args"] as? [String])
        let versions = try await KubernetesTarget.make(for: configuration.apps[0], in: configuration).clusterFacts()
        let inline = try #require(arguments.last { $0.hasSuffix("/values-inline.yaml") })
        var expected = ["template", "shop", ".", "--namespace", self.namespace, "--kube-version", versions?.kubeVersion ?? ""]
        for version in versions?.apiVersions ?? [] { expected += ["--api-versions", version] }
        expected += ["--include-crds", "--values", "values-prod.yaml", "--values", "../common/values.yaml", "--values", inline]
        expected += ["--set", "image.tag=1.2\\,3", "--set-string", "debug=true"]
        #expect(arguments == expected)
        #expect(versions?.apiVersions.contains("apps/v1") == true)
        if self.cluster.isStandIn { #expect(versions?.kubeVersion == "1.32.0") }
        // A clean environment: no worker variable, a HOME of its own, removed after the render.
        let environment = try #require(recorded["env"] as? [String: String])
        // (The interpreter's own launcher — pyenv here — may add its variables, and Python sets LC_CTYPE.)
        let given = Set(environment.keys.filter { !$0.hasPrefix("PYENV") && !$0.hasPrefix("_PYENV") && !["SHLVL", "PWD", "LC_CTYPE"].contains($0) })
        #expect(given == ["PATH", "HOME", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME", "HELM_STANDIN_RECORD"], "\(environment.keys.sorted())")
        #expect(!environment.values.contains { $0.contains("s3cret") })
        let directory = try #require(recorded["cwd"] as? String)
        #expect(directory.hasSuffix("/repo/charts/shop"))
        #expect(!FileManager.default.fileExists(atPath: directory))

        let settings = try #require(try self.cluster.get("configmap", "shop-settings", namespace: self.namespace))
        let data = try #require(settings["data"] as? [String: String])
        #expect(data["values"] == "tier: gold\nteam: platform\nreplicas: 3\n")
        #expect(data["set"] == "image.tag=1.2\\,3")
    }

    static func job(_ name: String, hook: String, policy: String? = nil) -> String {
        """
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: \(name)
          annotations:
            argocd.argoproj.io/hook: \(hook)
        \(policy.map { "    argocd.argoproj.io/hook-delete-policy: \($0)" } ?? "")
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              containers: [{ name: run, image: "busybox:1.36", command: [sh, -c, "true"] }]

        """
    }

    /// Plays the job controller until cancelled: each new Job of the namespace gets the condition
    /// `outcome` gives its name (`Complete` or `Failed`).
    func completeJobs(_ outcome: @escaping @Sendable (String) -> String) -> Task<Void, Never> {
        let cluster = self.cluster
        let namespace = self.namespace
        return Task {
            while !Task.isCancelled {
                let listed = (try? cluster.kubectl(["get", "jobs", "-n", namespace, "-o", "json"])) ?? "{}"
                let items = ((try? JSONSerialization.jsonObject(with: Data(listed.utf8))) as? [String: Any])?["items"] as? [[String: Any]] ?? []
                for item in items where ((item["status"] as? [String: Any])?["conditions"] as? [Any])?.isEmpty ?? true {
                    guard let name = (item["metadata"] as? [String: Any])?["name"] as? String else { continue }
                    let type = outcome(name)
                    let message = type == "Failed" ? "Job has reached the specified backoff limit" : ""
                    _ = try? cluster.kubectl([
                        "patch", "job", name, "-n", namespace, "--subresource=status", "--type=merge",
                        "-p", #"{"status":{"conditions":[{"type":"\#(type)","status":"True","reason":"\#(type == "Failed" ? "BackoffLimitExceeded" : "Completed")","message":"\#(message)"}]}}"#,
                    ])
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["TRIBUTARY_TEST_KUBECONTEXT"] == nil, "needs the stand-in's request log"))
    func preSyncAndPostSyncHooksRunInTheirPhasesAndAreNotPartOfTheApp() async throws {
        let first = try self.fixture.git.commit([
            "apps/shop/settings.yaml": Self.configMap("settings"),
            "apps/shop/migrate.yaml": Self.job("migrate", hook: "PreSync"),
            "apps/shop/smoke.yaml": Self.job("smoke", hook: "PostSync", policy: "HookSucceeded"),
            "apps/shop/check.yaml": Self.job("check", hook: "Sync"),
            "apps/shop/late.yaml": Self.configMap("late", wave: 1),
        ])
        let controller = self.completeJobs { _ in "Complete" }
        defer { controller.cancel() }
        let (engine, _) = try self.engine([self.app("shop")])
        let synced = try #require(await engine.handle(self.fixture.change(after: first), id: "c1").first)
        #expect(synced.phase == .succeeded, "\(synced.message ?? "")")
        #expect(synced.resources == .init(created: 2))

        let writes = try self.cluster.requests().filter { ["PATCH", "DELETE"].contains($0["method"] as? String) && ($0["dryRun"] as? Bool) != true }
            .compactMap { request in (request["path"] as? String).map { "\(request["method"]!) \($0.split(separator: "/").suffix(2).joined(separator: "/"))" } }
        // PreSync, then wave 0 with its Sync hook, then wave 1, then PostSync once healthy.
        let order = ["PATCH jobs/migrate", "PATCH configmaps/settings", "PATCH jobs/check", "PATCH configmaps/late", "PATCH jobs/smoke", "DELETE jobs/smoke"].map { writes.firstIndex(of: $0) ?? -1 }
        #expect(order == order.sorted() && !order.contains(-1), "\(writes)")
        #expect(try self.cluster.get("job", "migrate", namespace: self.namespace) != nil)  // BeforeHookCreation: kept until the next sync
        #expect(try self.cluster.get("job", "smoke", namespace: self.namespace) == nil)  // HookSucceeded
        let inventory = try #require(try self.cluster.get("configmap", "tributary-inventory-shop", namespace: "tributary-system"))
        #expect((inventory["data"] as? [String: String])?["objects"]?.contains("migrate") == false)

        // The next sync replaces the PreSync Job: the previous one is deleted, then created afresh.
        let uid = try #require(try self.cluster.get("job", "migrate", namespace: self.namespace)?["metadata"] as? [String: Any])["uid"] as? String
        try self.cluster.clearRequests()
        let second = try self.fixture.git.commit(["apps/shop/settings.yaml": Self.configMap("settings", "2")])
        let again = try #require(await engine.handle(self.fixture.change(after: second, before: first), id: "c2").first)
        #expect(again.phase == .succeeded, "\(again.message ?? "")")
        #expect(again.resources == .init(updated: 1, unchanged: 1))
        let newUID = try #require(try self.cluster.get("job", "migrate", namespace: self.namespace)?["metadata"] as? [String: Any])["uid"] as? String
        #expect(newUID != uid)
        // Hooks are not the app's: no drift for the deleted smoke Job, nothing to prune.
        #expect(await engine.checkDrift(try #require(engine.configuration.app(named: "shop"))) == nil)
    }

    @Test func aFailedPreSyncHookStopsTheSyncBeforeAnythingIsAppliedAndSyncFailHooksRun() async throws {
        let commit = try self.fixture.git.commit([
            "apps/shop/settings.yaml": Self.configMap("settings"),
            "apps/shop/migrate.yaml": Self.job("migrate", hook: "PreSync", policy: "HookFailed"),
            "apps/shop/alert.yaml": """
                apiVersion: v1
                kind: ConfigMap
                metadata:
                  name: sync-failed
                  annotations: { argocd.argoproj.io/hook: SyncFail }

                """,
        ])
        let controller = self.completeJobs { _ in "Failed" }
        defer { controller.cancel() }
        let (engine, _) = try self.engine([self.app("shop")])
        let failed = try #require(await engine.handle(self.fixture.change(after: commit), id: "c1").first)
        #expect(failed.phase == .failed)
        #expect(failed.message == "PreSync hook Job.batch \(self.namespace)/migrate failed: Job has reached the specified backoff limit (apps/shop/migrate.yaml:1)", "\(failed.message ?? "")")
        #expect(try self.cluster.get("configmap", "settings", namespace: self.namespace) == nil)
        #expect(try self.cluster.get("configmap", "sync-failed", namespace: self.namespace) != nil)
        #expect(try self.cluster.get("job", "migrate", namespace: self.namespace) == nil)  // HookFailed
    }

    @Test func aHandEditOfAManagedFieldIsDriftAndHealedButAnotherManagersFieldIsNot() async throws {
        let first = try self.fixture.git.commit([
            "apps/web/deployment.yaml": Self.deployment("web", replicas: 2),
            // Scaled by an HPA: the manifest leaves replicas out.
            "apps/web/worker.yaml": Self.deployment("worker", replicas: nil),
        ])
        let (engine, configuration) = try self.engine([self.app("web", selfHeal: false)])
        let app = try #require(configuration.app(named: "web"))
        let synced = try #require(await engine.handle(self.fixture.change(after: first), id: "c1").first)
        #expect(synced.phase == .succeeded, "\(synced.message ?? "")")
        #expect(await engine.checkDrift(app)?.phase != .driftDetected)

        // kubectl scale takes ownership of .spec.replicas from tributary; so would kubectl edit.
        try self.cluster.kubectl(["scale", "deployment", "web", "-n", self.namespace, "--replicas=5"])
        try self.cluster.kubectl(["scale", "deployment", "worker", "-n", self.namespace, "--replicas=4"])
        let drift = try #require(await engine.checkDrift(app))
        #expect(drift.phase == .driftDetected)
        #expect(drift.message?.contains("modified: Deployment.apps \(self.namespace)/web (.spec.replicas)") == true, "\(drift.message ?? "")")
        #expect(drift.message?.contains("worker") == false)

        // kubectl edit of the image (a strategic-merge patch; kubectl-edit takes the field), and a deleted object.
        try self.cluster.kubectl(["annotate", "deployment", "worker", "-n", self.namespace, "note=by-hand"])
        _ = try run(
            ["kubectl", "--kubeconfig", self.cluster.kubeconfig, "--context", self.cluster.context, "edit", "deployment", "web", "-n", self.namespace],
            environment: ["KUBE_EDITOR": "sed -i s/nginx:1.27/nginx:hacked/"]
        )
        let edited = try #require(await engine.checkDrift(app))
        #expect(edited.message?.contains("(.spec.replicas, .spec.template.spec.containers[name=web].image)") == true, "\(edited.message ?? "")")
        #expect(edited.message?.contains("worker") == false)  // an annotation the manifest does not set is not drift
        // ignoreDifferences with Argo CD's index pointer into the container list.
        let ignoring = self.app("web", extra: "    ignoreDifferences: [{ group: apps, kind: Deployment, name: web, jsonPointers: [/spec/template/spec/containers/0/image] }]")
        let (ignoringEngine, ignoringConfiguration) = try self.engine([ignoring])
        let ignoringApp = try #require(ignoringConfiguration.app(named: "web"))
        _ = await ignoringEngine.sync(ignoringApp, trigger: .interval)
        let partly = try #require(await ignoringEngine.checkDrift(ignoringApp))
        #expect(partly.message?.contains("(.spec.replicas)") == true, "\(partly.message ?? "")")

        let (healing, healingConfiguration) = try self.engine([self.app("web", selfHeal: true)])
        let healingApp = try #require(healingConfiguration.app(named: "web"))
        _ = await healing.sync(healingApp, trigger: .interval)
        let healed = try #require(await healing.checkDrift(healingApp))
        #expect(healed.phase == .healed, "\(healed.message ?? "")")
        let web = try #require(try self.cluster.get("deployment", "web", namespace: self.namespace))
        #expect((web["spec"] as? [String: Any])?["replicas"] as? Int == 2)
        let worker = try #require(try self.cluster.get("deployment", "worker", namespace: self.namespace))
        #expect((worker["spec"] as? [String: Any])?["replicas"] as? Int == 4)
        #expect(await healing.checkDrift(healingApp)?.phase != .driftDetected)

        try self.cluster.kubectl(["delete", "deployment", "worker", "-n", self.namespace])
        let missing = try #require(await engine.checkDrift(app))
        #expect(missing.message?.contains("missing: Deployment.apps \(self.namespace)/worker") == true, "\(missing.message ?? "")")
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["TRIBUTARY_TEST_KUBECONTEXT"] == nil, "needs the stand-in's control endpoints"))
    func aDryRunRejectionAppliesNothingAndNamesTheObjectAndA403NamesVerbAndResource() async throws {
        let first = try self.fixture.git.commit([
            "apps/web/settings.yaml": Self.configMap("settings"),
            "apps/web/broken.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: broken\nspec:\n  template:\n    spec:\n      containers: [{ name: a, image: a }]\n",
        ])
        let (engine, configuration) = try self.engine([self.app("web")])
        try self.cluster.clearRequests()
        let rejected = try #require(await engine.handle(self.fixture.change(after: first), id: "c1").first)
        #expect(rejected.phase == .failed)
        #expect(rejected.message?.contains("dry-run apply Deployment.apps \(self.namespace)/broken (apps/web/broken.yaml:1)") == true, "\(rejected.message ?? "")")
        #expect(rejected.message?.contains("spec.selector") == true)
        // CreateNamespace=true created the namespace, so that what goes in it could be dry-run; nothing else was written.
        let writes = try self.cluster.requests().filter { ["PATCH", "POST", "PUT", "DELETE"].contains($0["method"] as? String) && ($0["dryRun"] as? Bool) != true }
        #expect(writes.compactMap { $0["path"] as? String } == ["/api/v1/namespaces/\(self.namespace)"], "\(writes)")
        #expect(try self.cluster.get("configmap", "settings", namespace: self.namespace) == nil)
        #expect(try self.cluster.get("configmap", "tributary-inventory-web", namespace: "tributary-system") == nil)

        let second = try self.fixture.git.commit(["apps/web/broken.yaml": nil])
        try self.cluster.forbid(verb: "patch", resource: "configmaps", namespace: self.namespace)
        let app = try #require(configuration.app(named: "web"))
        let forbidden = try #require(await engine.sync(app, trigger: .change(self.fixture.change(after: second, before: first), id: "c2")))
        #expect(forbidden.phase == .failed)
        #expect(forbidden.message?.contains("cannot patch resource \"configmaps\" in API group \"\" in the namespace \"\(self.namespace)\"") == true, "\(forbidden.message ?? "")")
        #expect(forbidden.message?.contains(self.cluster.token) == false)
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["TRIBUTARY_TEST_KUBECONTEXT"] == nil, "needs the stand-in's controllable rollouts"))
    func healthFollowsTheRolloutAndWaitForHealthFailsADegradedSync() async throws {
        let first = try self.fixture.git.commit(["apps/web/deployment.yaml": Self.deployment("web", replicas: 1)])
        let (engine, configuration) = try self.engine([self.app("web")])
        let app = try #require(configuration.app(named: "web"))
        let synced = try #require(await engine.handle(self.fixture.change(after: first), id: "c1").first)
        #expect(synced.health?.status == "Progressing")
        #expect(await engine.checkHealth(app) == nil)  // unchanged: no event
        // Still progressing, with another reason: no event either.
        try self.setStatus("web", #"{"observedGeneration":1,"replicas":1,"updatedReplicas":0}"#)
        #expect(await engine.checkHealth(app) == nil)

        try self.setStatus("web", #"{"observedGeneration":1,"replicas":1,"updatedReplicas":1,"readyReplicas":1,"availableReplicas":1}"#)
        let healthy = try #require(await engine.checkHealth(app))
        #expect(healthy.phase == .healthChanged)
        #expect(healthy.health?.status == "Healthy")
        #expect(healthy.message == "Progressing → Healthy")
        // A restarted worker has not seen the app's health: it looks, and says nothing until it changes.
        let (restarted, _) = try self.engine([self.app("web")])
        _ = await restarted.sync(app, trigger: .interval)
        #expect(await restarted.checkHealth(app) == nil)

        try self.setStatus("web", #"{"observedGeneration":1,"replicas":1,"updatedReplicas":1,"availableReplicas":0,"conditions":[{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded","message":"ReplicaSet web-1 has timed out progressing."}]}"#)
        let degraded = try #require(await engine.checkDrift(app))
        #expect(degraded.phase == .healthChanged)
        #expect(degraded.health == .init(status: "Degraded", message: "Deployment.apps \(self.namespace)/web: ReplicaSet web-1 has timed out progressing."))

        // With waitForHealth, a rollout that exceeds its progress deadline fails the sync.
        let second = try self.fixture.git.commit(["apps/web/deployment.yaml": Self.deployment("web", replicas: 1, image: "nginx:1.28")])
        let (waiting, waitingConfiguration) = try self.engine([self.app("web", waitForHealth: "60s")])
        let waitingApp = try #require(waitingConfiguration.app(named: "web"))
        let sync = Task { await waiting.sync(waitingApp, trigger: .change(self.fixture.change(after: second, before: first), id: "c2")) }
        while try ((self.cluster.get("deployment", "web", namespace: self.namespace)?["metadata"] as? [String: Any])?["generation"] as? Int) != 2 {
            try await Task.sleep(for: .milliseconds(50))
        }
        try self.setStatus("web", #"{"observedGeneration":2,"replicas":1,"updatedReplicas":1,"availableReplicas":0,"conditions":[{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded","message":"ReplicaSet web-2 has timed out progressing."}]}"#)
        let failed = try #require(await sync.value)
        #expect(failed.phase == .failed)
        #expect(failed.message?.hasPrefix("not healthy: wave 0 is Degraded") == true, "\(failed.message ?? "")")
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["TRIBUTARY_TEST_KUBECONTEXT"] == nil, "needs the stand-in's request log"))
    func withWaitForHealthAWaveIsAppliedOnlyOnceThePreviousOneIsHealthy() async throws {
        let first = try self.fixture.git.commit([
            "apps/web/db.yaml": Self.deployment("db", replicas: 1, wave: 0),
            "apps/web/after.yaml": Self.configMap("after", wave: 1),
        ])
        let (engine, configuration) = try self.engine([self.app("web", waitForHealth: "60s")])
        let app = try #require(configuration.app(named: "web"))
        try self.cluster.clearRequests()
        let sync = Task { await engine.sync(app, trigger: .change(self.fixture.change(after: first), id: "c1")) }
        // The wave-0 Deployment exists and is progressing; wave 1 waits for it.
        while try self.cluster.get("deployment", "db", namespace: self.namespace) == nil { try await Task.sleep(for: .milliseconds(50)) }
        try self.setStatus("db", #"{"observedGeneration":1,"replicas":1,"updatedReplicas":1,"readyReplicas":1,"availableReplicas":1}"#)
        let event = try #require(await sync.value)
        #expect(event.phase == .succeeded, "\(event.message ?? "")")
        #expect(event.health?.status == "Healthy")
        let requests = try self.cluster.requests()
        let healthyAt = try #require(requests.firstIndex { ($0["path"] as? String)?.hasSuffix("/deployments/db/status") == true && ($0["method"] as? String) != "GET" })
        let afterApplied = try #require(requests.firstIndex { ($0["path"] as? String)?.hasSuffix("/configmaps/after") == true && ($0["method"] as? String) == "PATCH" && ($0["dryRun"] as? Bool) != true })
        #expect(afterApplied > healthyAt)
    }

    @Test func aCRDAndItsFirstObjectSyncTogether() async throws {
        let first = try self.fixture.git.commit([
            "apps/web/crd.yaml": """
                apiVersion: apiextensions.k8s.io/v1
                kind: CustomResourceDefinition
                metadata:
                  name: widgets-\(self.namespace).\(self.namespace).example.com
                spec:
                  group: \(self.namespace).example.com
                  scope: Namespaced
                  names: { kind: Widget, plural: widgets-\(self.namespace), singular: widget, listKind: WidgetList }
                  versions:
                    - name: v1
                      served: true
                      storage: true
                      schema: { openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true } }

                """,
            "apps/web/widget.yaml": "apiVersion: \(self.namespace).example.com/v1\nkind: Widget\nmetadata:\n  name: first\nspec:\n  size: 3\n",
        ])
        let (engine, _) = try self.engine([self.app("web")])
        let synced = try #require(await engine.handle(self.fixture.change(after: first), id: "c1").first)
        #expect(synced.phase == .succeeded, "\(synced.message ?? "")")
        #expect(synced.resources == .init(created: 2))
        #expect(try self.cluster.get("widgets-\(self.namespace).\(self.namespace).example.com", "first", namespace: self.namespace) != nil)
    }

    @Test func withoutForceConflictsAFieldAnotherManagerTookFailsTheSyncNamingFieldAndManager() async throws {
        let first = try self.fixture.git.commit(["apps/web/deployment.yaml": Self.deployment("web", replicas: 2)])
        let (engine, configuration) = try self.engine([self.app("web", options: ["CreateNamespace=true", "ForceConflicts=false"])])
        let app = try #require(configuration.app(named: "web"))
        let synced = try #require(await engine.handle(self.fixture.change(after: first), id: "c1").first)
        #expect(synced.phase == .succeeded, "\(synced.message ?? "")")
        try self.cluster.kubectl(["scale", "deployment", "web", "-n", self.namespace, "--replicas=5"])
        let second = try self.fixture.git.commit(["apps/web/deployment.yaml": Self.deployment("web", replicas: 3)])
        let conflict = try #require(await engine.sync(app, trigger: .change(self.fixture.change(after: second, before: first), id: "c2")))
        #expect(conflict.phase == .failed)
        #expect(conflict.message?.contains("Deployment.apps \(self.namespace)/web (apps/web/deployment.yaml:1)") == true, "\(conflict.message ?? "")")
        #expect(conflict.message?.contains(".spec.replicas") == true)
        #expect(conflict.message?.contains("conflict with \"kubectl") == true)
        let web = try #require(try self.cluster.get("deployment", "web", namespace: self.namespace))
        #expect((web["spec"] as? [String: Any])?["replicas"] as? Int == 5)
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["TRIBUTARY_TEST_KUBECONTEXT"] == nil, "needs the stand-in's token"))
    func aTokenFileIsReadForEveryRequestAndRefusedCredentialsOrADeadServerFailClearly() async throws {
        let first = try self.fixture.git.commit(["apps/web/settings.yaml": Self.configMap("settings")])
        let tokenFile = self.fixture.git.root.appendingPathComponent("token")
        try "wrong-token\n".write(to: tokenFile, atomically: true, encoding: .utf8)
        let clusters = """
            clusters:
              - name: test
                server: \(self.cluster.url)
                auth: { token: { file: "\(tokenFile.path)" }, caFile: "\(self.cluster.caFile)" }

            """
        let configuration = try TributaryConfiguration.parse(yaml: clusters + "apps:\n" + self.app("web"), file: "test.yaml")
        let engine = try self.fixture.engine(configuration)
        let app = try #require(configuration.app(named: "web"))
        let refused = try #require(await engine.handle(self.fixture.change(after: first), id: "c1").first)
        #expect(refused.phase == .failed)
        #expect(refused.message?.contains("the API server refused the credentials (401)") == true, "\(refused.message ?? "")")
        #expect(refused.message?.contains("wrong-token") == false)

        try "\(self.cluster.token)\n".write(to: tokenFile, atomically: true, encoding: .utf8)  // rotated
        let synced = try #require(await engine.sync(app, trigger: .retry))
        #expect(synced.phase == .succeeded, "\(synced.message ?? "")")

        let dead = try TributaryConfiguration.parse(
            yaml: clusters.replacingOccurrences(of: self.cluster.url, with: "https://127.0.0.1:\(try freePort())") + "apps:\n" + self.app("web").replacingOccurrences(of: "limit: 0", with: "limit: 3"),
            file: "test.yaml"
        )
        let unreachable = try #require(await self.fixture.engine(dead, mirrors: "mirrors-2").handle(self.fixture.change(after: first), id: "c3").first)
        #expect(unreachable.phase == .failed)
        #expect(unreachable.message?.contains("did not answer") == true, "\(unreachable.message ?? "")")
        #expect(unreachable.message?.contains(self.cluster.token) == false)
    }

    @Test func everyObjectsNamespaceMustBeAllowedByTheProject() async throws {
        let first = try self.fixture.git.commit([
            "apps/web/settings.yaml": Self.configMap("settings"),
            "apps/web/sneaky.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sneaky\n  namespace: kube-system\n",
        ])
        let projects = "projects:\n  - name: team\n    sourceRepos: [\"*\"]\n    destinations: [{ name: test, namespace: \"t-*\" }]\n"
        let configuration = try TributaryConfiguration.parse(
            yaml: self.clusters + projects + "apps:\n" + self.app("web").replacingOccurrences(of: "  - name: web\n", with: "  - name: web\n    project: team\n"), file: "test.yaml"
        )
        let refused = try #require(await self.fixture.engine(configuration).handle(self.fixture.change(after: first), id: "c1").first)
        #expect(refused.phase == .failed)
        #expect(refused.message == "apps/web/sneaky.yaml:1: project team does not allow namespace kube-system of cluster test (ConfigMap kube-system/sneaky)")
        #expect(try self.cluster.get("configmap", "settings", namespace: self.namespace) == nil)

        // A kind the project's resource lists refuse: named, with its manifest, and nothing applied.
        let second = try self.fixture.git.commit([
            "apps/web/sneaky.yaml": nil,
            "apps/web/role.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: \(self.namespace)-reader\nrules: []\n",
        ])
        let listed = try TributaryConfiguration.parse(
            yaml: self.clusters + projects.replacingOccurrences(of: "destinations: [", with: "clusterResourceWhitelist: [{ group: '', kind: Namespace }]\n    destinations: [") + "apps:\n"
                + self.app("web").replacingOccurrences(of: "  - name: web\n", with: "  - name: web\n    project: team\n"), file: "test.yaml"
        )
        let kind = try #require(await (try self.fixture.engine(listed, mirrors: "mirrors-2")).handle(self.fixture.change(after: second, before: first), id: "c2").first)
        #expect(kind.phase == .failed)
        #expect(kind.message == "apps/web/role.yaml:1: project team does not allow cluster-scoped ClusterRole.rbac.authorization.k8s.io (not in clusterResourceWhitelist): ClusterRole.rbac.authorization.k8s.io \(self.namespace)-reader")
        #expect(try self.cluster.get("configmap", "settings", namespace: self.namespace) == nil)
    }

    @Test func argoCDAndFluxDefinitionsSyncLikeTheNativeOnes() async throws {
        let first = try self.fixture.git.commit(["apps/web/settings.yaml": Self.configMap("settings"), "apps/web/deployment.yaml": Self.deployment("web")])
        let definitions = self.fixture.git.root.appendingPathComponent("definitions")
        try FileManager.default.createDirectory(at: definitions, withIntermediateDirectories: true)
        try """
            apiVersion: argoproj.io/v1alpha1
            kind: AppProject
            metadata: { name: team, namespace: argocd }
            spec:
              sourceRepos: ['*']
              destinations: [{ name: test, namespace: '*' }]
            ---
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata: { name: argo-web, namespace: argocd }
            spec:
              project: team
              source: { repoURL: "\(self.fixture.repoURL)", targetRevision: main, path: apps/web }
              destination: { server: https://kubernetes.default.svc, namespace: \(self.namespace)-argo }
              syncPolicy:
                automated: { prune: true, selfHeal: true }
                syncOptions: [CreateNamespace=true]
                retry: { limit: 2, backoff: { duration: 5s, factor: 2, maxDuration: 1m } }
            ---
            apiVersion: source.toolkit.fluxcd.io/v1
            kind: GitRepository
            metadata: { name: infra, namespace: flux-system }
            spec: { url: "\(self.fixture.repoURL)", ref: { branch: main }, interval: 1m }
            ---
            apiVersion: kustomize.toolkit.fluxcd.io/v1
            kind: Kustomization
            metadata: { name: flux-web, namespace: flux-system }
            spec: { sourceRef: { kind: GitRepository, name: infra }, path: ./apps/web, prune: true, interval: 1h, targetNamespace: \(self.namespace) }

            """.write(to: definitions.appendingPathComponent("apps.yaml"), atomically: true, encoding: .utf8)
        // The Flux app's namespace exists, as Flux would need it to; Argo CD's is created by CreateNamespace.
        let namespaceFile = self.fixture.git.root.appendingPathComponent("namespace.yaml")
        try "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: \(self.namespace)\n".write(to: namespaceFile, atomically: true, encoding: .utf8)
        try self.cluster.kubectl(["apply", "--server-side", "-f", namespaceFile.path])
        let configuration = try TributaryConfiguration.parse(
            yaml: self.clusters + "definitions: [{ path: \"\(definitions.path)\", cluster: test }]\napps:\n" + self.app("web").replacingOccurrences(of: "namespace: \(self.namespace) }", with: "namespace: \(self.namespace)-native }"),
            file: "test.yaml"
        )
        #expect(configuration.warnings.isEmpty, "\(configuration.warnings)")
        let events = await (try self.fixture.engine(configuration)).handle(self.fixture.change(after: first), id: "c1")
        #expect(events.map(\.app) == ["argo-web", "flux-web", "web"])
        for event in events {
            #expect(event.phase == .succeeded, "\(event.app): \(event.message ?? "")")
            #expect(event.resources == .init(created: 2))
            #expect(event.health?.status == "Progressing")
        }
        for namespace in ["\(self.namespace)-argo", self.namespace, "\(self.namespace)-native"] {
            #expect(try self.cluster.get("configmap", "settings", namespace: namespace) != nil)
        }
        let tracking = (try self.cluster.get("deployment", "web", namespace: "\(self.namespace)-argo")?["metadata"] as? [String: Any])?["annotations"] as? [String: String]
        #expect(tracking?["tributary.dev/tracking-id"] == "argo-web:apps/Deployment:\(self.namespace)-argo/web")
    }

    @Test func aManualClusterAppIsReportedOutOfSyncObjectByObjectAndLeftAlone() async throws {
        let first = try self.fixture.git.commit(["apps/web/settings.yaml": Self.configMap("settings"), "apps/web/deployment.yaml": Self.deployment("web")])
        let (automatic, _) = try self.engine([self.app("web")])
        _ = await automatic.handle(self.fixture.change(after: first), id: "c1")
        let second = try self.fixture.git.commit(["apps/web/settings.yaml": Self.configMap("settings", "2"), "apps/web/extra.yaml": Self.configMap("extra")])
        let manual = self.app("web").replacingOccurrences(of: "      automated: { prune: true, selfHeal: false }\n", with: "")
        let (engine, _) = try self.engine([manual])
        if self.cluster.isStandIn { try self.cluster.clearRequests() }
        let event = try #require(await engine.handle(self.fixture.change(after: second, before: first), id: "c2").first)
        #expect(event.phase == .outOfSync, "\(event.message ?? "")")
        #expect(event.difference == .init(create: ["ConfigMap \(self.namespace)/extra"], update: ["ConfigMap \(self.namespace)/settings (.data.value)"]))
        #expect(try self.cluster.get("configmap", "extra", namespace: self.namespace) == nil)
        if self.cluster.isStandIn {
            let writes = try self.cluster.requests().filter { ["PATCH", "POST", "PUT", "DELETE"].contains($0["method"] as? String) && ($0["dryRun"] as? Bool) != true }
            #expect(writes.isEmpty, "\(writes)")
        }
    }

    /// Writes a Deployment's status through the status subresource, as its controller would.
    func setStatus(_ deployment: String, _ status: String) throws {
        try self.cluster.kubectl(["patch", "deployment", deployment, "-n", self.namespace, "--subresource=status", "--type=merge", "-p", #"{"status":\#(status)}"#])
    }
}
