import Foundation
import Testing
import TributaryCore
import TributaryGit
import TributaryTestSupport
@testable import TributarySync

@Suite("Sync engine against a served repository", .timeLimit(.minutes(2)))
struct SyncEngineTests {
    let fixture: SyncFixture

    init() throws {
        self.fixture = try SyncFixture()
    }

    @Test func pushToAWatchedPathSyncsAndUntouchedAppsAreSkippedWithoutAWrite() async throws {
        let first = try self.fixture.git.commit([
            "apps/shop/config.yaml": SyncFixture.configMap("shop", "1"),
            "apps/cart/config.yaml": SyncFixture.configMap("cart", "1"),
        ])
        let engine = try self.fixture.engine(try self.fixture.configuration(apps: [self.fixture.app("shop"), self.fixture.app("cart")]))
        let initial = await engine.handle(self.fixture.change(after: first), id: "c1")
        #expect(initial.map(\.phase) == [.succeeded, .succeeded])
        #expect(initial[1].resources == .init(created: 1))
        #expect(self.fixture.read("shop", "configmap_shop_shop.yaml")?.contains("value: \"1\"") == true)
        let cartGeneration = try FileManager.default.destinationOfSymbolicLink(atPath: self.fixture.targetPath("cart"))

        let second = try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "2")])
        let events = await engine.handle(self.fixture.change(after: second, before: first, delivery: "delivery-2"), id: "c2")
        let byApp = Dictionary(uniqueKeysWithValues: events.map { ($0.app, $0) })
        #expect(byApp["shop"]?.phase == .succeeded)
        #expect(byApp["shop"]?.resources == .init(updated: 1))
        #expect(byApp["shop"]?.revision == second)
        #expect(byApp["shop"]?.previousRevision == first)
        #expect(byApp["shop"]?.deliveryID == "delivery-2")
        #expect(byApp["shop"]?.changeID == "c2")
        #expect(byApp["shop"]?.timings != nil)
        #expect(byApp["cart"]?.phase == .skipped)
        #expect(self.fixture.read("shop", "configmap_shop_shop.yaml")?.contains("value: \"2\"") == true)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: self.fixture.targetPath("cart")) == cartGeneration)

        // At-least-once: the same change again has no further effect.
        let again = await engine.handle(self.fixture.change(after: second, before: first, delivery: "delivery-2"), id: "c2")
        #expect(again.map(\.phase) == [.coalesced, .coalesced])
        // An older change, overtaken by a newer synced revision, is coalesced too.
        let older = await engine.handle(self.fixture.change(after: first), id: "c1")
        #expect(older.first { $0.app == "shop" }?.phase == .coalesced)
    }

    @Test func aWorkerSyncsToTheHeadOfTheRefNotJustThePushedCommit() async throws {
        let first = try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "1")])
        let second = try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "2")])
        let engine = try self.fixture.engine(try self.fixture.configuration(apps: [self.fixture.app("shop")]))
        let events = await engine.handle(self.fixture.change(after: first), id: "c1")
        #expect(events.first?.revision == second)
        #expect(self.fixture.read("shop", "configmap_shop_shop.yaml")?.contains("value: \"2\"") == true)
    }

    @Test func aManualAppIsComparedAndReportedOutOfSyncOnceButNeverApplied() async throws {
        let first = try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "1")])
        let manual = self.fixture.app("shop").replacingOccurrences(of: "      automated: { prune: true, selfHeal: false }\n", with: "")
        let configuration = try self.fixture.configuration(apps: [manual])
        let app = try #require(configuration.app(named: "shop"))
        #expect(app.syncPolicy.automated == nil)
        let engine = try self.fixture.engine(configuration)
        let event = try #require(await engine.handle(self.fixture.change(after: first), id: "c1").first)
        #expect(event.phase == .outOfSync)
        #expect(event.difference == .init(create: ["configmap_shop_shop.yaml"]))
        #expect(event.message == "a sync would create: configmap_shop_shop.yaml; automated sync is off, so nothing was applied")
        #expect(!FileManager.default.fileExists(atPath: self.fixture.targetPath("shop")))
        // The same difference again, by a repeated request or the interval: no further event.
        #expect(await engine.handle(self.fixture.change(after: first), id: "c1").isEmpty)
        #expect(await engine.sync(app, trigger: .interval) == nil)
        // The repository now renders what the target holds (nothing): in sync, reported once.
        let second = try self.fixture.git.commit(["apps/shop/config.yaml": nil, "apps/shop/README.md": "moved\n"])
        let synced = try #require(await engine.handle(self.fixture.change(after: second, before: first), id: "c2").first)
        #expect(synced.phase == .synced)
        #expect(await engine.sync(app, trigger: .interval) == nil)
    }

    @Test func aSuspendedAppIsComparedButNotAppliedUntilResumed() async throws {
        let first = try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "1")])
        let configuration = try self.fixture.configuration(apps: [self.fixture.app("shop")])
        let controls = AppControls(loaded: false)
        let cache = GitMirrorCache(directory: self.fixture.git.root.appendingPathComponent("mirrors"), logger: self.fixture.logger)
        let engine = try SyncEngine(configuration: configuration, mirrors: cache, controls: controls, logger: self.fixture.logger)
        // Until the controls are read, nothing syncs.
        let waiting = Task { await engine.handle(self.fixture.change(after: first), id: "c1") }
        controls.markLoaded()
        #expect(await waiting.value.map(\.phase) == [.succeeded])

        #expect(controls.apply(AppControl(app: "shop", suspended: true, by: "alice")))
        let second = try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "2")])
        let observed = try #require(await engine.handle(self.fixture.change(after: second, before: first), id: "c2").first)
        #expect(observed.phase == .outOfSync)
        #expect(observed.message == "a sync would update: configmap_shop_shop.yaml; automated sync is suspended, so nothing was applied")
        #expect(self.fixture.read("shop", "configmap_shop_shop.yaml")?.contains("value: \"1\"") == true)

        // The record read last is in force, whatever its writer's clock said; a tombstone clears it.
        #expect(!controls.apply(AppControl(app: "shop", suspended: true, at: Date(timeIntervalSinceNow: -3600))))
        #expect(controls.remove(app: "shop"))
        #expect(!controls.isSuspended("shop"))
        #expect(controls.apply(AppControl(app: "shop", suspended: true)))
        #expect(controls.apply(AppControl(app: "shop", suspended: false, at: Date(timeIntervalSinceNow: -3600))))
        let resumed = await engine.sync(configuration.apps[0], trigger: .interval)
        #expect(resumed?.phase == .succeeded)
        #expect(self.fixture.read("shop", "configmap_shop_shop.yaml")?.contains("value: \"2\"") == true)
    }

    @Test func aDryRunByHandOfAnAutomatedAppLeavesItsNextSyncAlone() async throws {
        let first = try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "1")])
        let configuration = try self.fixture.configuration(apps: [self.fixture.app("shop")])
        let engine = try self.fixture.engine(configuration)
        _ = await engine.handle(self.fixture.change(after: first), id: "c1")
        let second = try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "2")])
        var request = SyncRequest(
            app: "shop", cluster: nil, repository: self.fixture.repositoryKey, ref: "main", revision: "", before: String(repeating: "0", count: 40),
            touchesPath: true, deleted: false, partitionCount: 6, changeID: "cli-1", deliveryID: "manual-cli-1", receivedAt: Date()
        )
        request.manual = .init(prune: true, dryRun: true)
        let preview = try #require(await engine.sync(configuration.apps[0], trigger: .request(request, id: "cli-1")))
        #expect(preview.phase == .outOfSync)
        #expect(preview.trigger == "dry-run")
        #expect(preview.message?.hasSuffix("dry run, so nothing was applied") == true)
        // The push's own request still syncs the commit the dry run looked at.
        let synced = try #require(await engine.handle(self.fixture.change(after: second, before: first), id: "c2").first)
        #expect(synced.phase == .succeeded)
    }

    @Test func anEmptyRenderWithPruneIsRefusedUnlessAllowEmpty() async throws {
        let first = try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "1")])
        let configuration = try self.fixture.configuration(apps: [
            self.fixture.app("shop"),
            self.fixture.app("cart", path: "apps/shop").replacingOccurrences(of: "prune: true,", with: "prune: true, allowEmpty: true,"),
        ])
        #expect(configuration.app(named: "cart")?.syncPolicy.automated?.allowEmpty == true)
        let engine = try self.fixture.engine(configuration)
        _ = await engine.handle(self.fixture.change(after: first), id: "c1")
        let emptied = try self.fixture.git.commit(["apps/shop/config.yaml": nil, "apps/shop/README.md": "nothing here\n"])
        let events = Dictionary(uniqueKeysWithValues: await engine.handle(self.fixture.change(after: emptied, before: first), id: "c2").map { ($0.app, $0) })
        #expect(events["shop"]?.phase == .failed)
        #expect(events["shop"]?.message?.contains("renders no resources") == true, "\(events["shop"]?.message ?? "")")
        #expect(events["shop"]?.message?.contains("allowEmpty is false") == true)
        #expect(self.fixture.read("shop", "configmap_shop_shop.yaml") != nil)
        #expect(events["cart"]?.phase == .succeeded)
        #expect(events["cart"]?.resources == .init(pruned: 1))
        #expect(self.fixture.read("cart", "configmap_shop_shop.yaml") == nil)
    }

    @Test func malformedManifestFailsWithFileAndLineAndTheTargetKeepsItsLastGoodState() async throws {
        let good = try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "1")])
        let engine = try self.fixture.engine(try self.fixture.configuration(apps: [self.fixture.app("shop")]))
        _ = await engine.handle(self.fixture.change(after: good), id: "c1")
        let bad = try self.fixture.git.commit([
            "apps/shop/config.yaml": SyncFixture.configMap("shop", "2"),
            "apps/shop/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: [unclosed\n",
        ])
        let events = await engine.handle(self.fixture.change(after: bad, before: good), id: "c2")
        let failure = try #require(events.first)
        #expect(failure.phase == .failed)
        #expect(failure.error?.file == "apps/shop/bad.yaml")
        #expect(failure.error?.line != nil)
        #expect(failure.message?.hasPrefix("apps/shop/bad.yaml:") == true)
        #expect(self.fixture.read("shop", "configmap_shop_shop.yaml")?.contains("value: \"1\"") == true)
        #expect(try await DirectoryTarget(path: self.fixture.targetPath("shop")).inventory()?.revision == good)

        // The failure is retried with the app's backoff (100 ms here), counting attempts.
        try await waitUntil("the retry to fall due", timeout: .seconds(30)) {
            engine.dueWork(among: engine.configuration.apps).contains { if case .retry = $0.1 { true } else { false } }
        }
        engine.scheduleNextInterval(for: engine.configuration.apps[0], trigger: .retry)
        let retry = await engine.sync(engine.configuration.apps[0], trigger: .retry)
        #expect(retry?.phase == .failed)
        #expect(retry?.attempt == 2)
        #expect(retry?.trigger == "retry")
        #expect(retry?.deliveryID == events.first?.deliveryID)
    }

    @Test func aJsonnetAppRendersWithExtVarsAndASyntaxErrorFailsAtItsFileAndLine() async throws {
        let good = try self.fixture.git.commit([
            "apps/shop/main.jsonnet": """
                local labels = import 'labels.libsonnet';
                { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'shop', namespace: 'shop', labels: labels },
                  data: { tag: std.extVar('tag'), replicas: std.toString(std.extVar('replicas')) } }

                """,
            "lib/labels.libsonnet": "{ team: 'platform' }\n",
        ])
        let app = self.fixture.app("shop").replacingOccurrences(
            of: "path: apps/shop }",
            with: "path: apps/shop, directory: { jsonnet: { extVars: [{ name: tag, value: '1.4' }, { name: replicas, value: '1 + 2', code: true }], libs: [lib] } } }"
        )
        let engine = try self.fixture.engine(try self.fixture.configuration(apps: [app]))
        let synced = try #require(await engine.handle(self.fixture.change(after: good), id: "c1").first)
        #expect(synced.phase == .succeeded, "\(synced.message ?? "")")
        let written = try #require(self.fixture.read("shop", "configmap_shop_shop.yaml"))
        #expect(written.contains("tag: '1.4'") && written.contains("replicas: '3'") && written.contains("team: platform"), "\(written)")

        let bad = try self.fixture.git.commit(["apps/shop/main.jsonnet": "{\n  apiVersion: 'v1',\n  kind: 'ConfigMap'\n  metadata: {},\n}\n"])
        let failure = try #require(await engine.handle(self.fixture.change(after: bad, before: good), id: "c2").first)
        #expect(failure.phase == .failed)
        #expect(failure.error?.file == "apps/shop/main.jsonnet")
        #expect(failure.error?.line == 4)
        #expect(failure.message?.hasPrefix("apps/shop/main.jsonnet:4: jsonnet: ") == true, "\(failure.message ?? "")")
        #expect(self.fixture.read("shop", "configmap_shop_shop.yaml") == written)
    }

    @Test func aPluginRendersWithArgoCDsEnvironmentAndOneThatHangsIsKilledAtItsTimeout() async throws {
        let commit = try self.fixture.git.commit(["apps/shop/params.txt": "from the repository\n", "apps/slow/README.md": "slow\n"])
        let plugins = """
            plugins:
              - name: configmap
                init: { command: [sh, -c], args: ["cat params.txt > ../init-ran"] }
                generate:
                  command: [sh, -c]
                  args:
                    - |
                      printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: %s, namespace: shop}\\ndata: {tier: "%s", replicas: "%s", revision: "%s", path: "%s", init: "%s", secret: "%s"}\\n' \\
                        "$ARGOCD_APP_NAME" "$ARGOCD_ENV_TIER" "$PARAM_REPLICAS" "$ARGOCD_APP_REVISION_SHORT" "$ARGOCD_APP_SOURCE_PATH" "$(cat ../init-ran)" "$TRIBUTARY_TEST_WORKER_SECRET"
              - name: slow
                generate: { command: [sh, -c, "sleep 600 & wait"] }
                timeout: 1s

            """
        let shop = self.fixture.app("shop").replacingOccurrences(
            of: "path: apps/shop }", with: "path: apps/shop, plugin: { name: configmap, env: [{ name: TIER, value: gold }], parameters: [{ name: replicas, string: '3' }] } }"
        )
        let slow = self.fixture.app("slow").replacingOccurrences(of: "path: apps/slow }", with: "path: apps/slow, plugin: { name: slow } }")
        setenv("TRIBUTARY_TEST_WORKER_SECRET", "s3cret-worker-value", 1)
        defer { unsetenv("TRIBUTARY_TEST_WORKER_SECRET") }
        let engine = try self.fixture.engine(try self.fixture.configuration(apps: [shop, slow], projects: plugins))
        let events = Dictionary(uniqueKeysWithValues: await engine.handle(self.fixture.change(after: commit), id: "c1").map { ($0.app, $0) })
        #expect(events["shop"]?.phase == .succeeded, "\(events["shop"]?.message ?? "")")
        let written = try #require(self.fixture.read("shop", "configmap_shop_shop.yaml"))
        for expected in ["tier: \"gold\"", "replicas: \"3\"", "revision: \"\(commit.prefix(7))\"", "path: \"apps/shop\"", "init: \"from the repository\"", "secret: \"\""] {
            #expect(written.contains(expected), "\(expected) in \(written)")
        }
        #expect(events["slow"]?.phase == .failed)
        #expect(events["slow"]?.message == "apps/slow: plugin slow did not finish within 1 s; it was killed")
    }

    @Test func anAppOutsideItsProjectIsRefusedWithAFailedEvent() async throws {
        let commit = try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "1")])
        let projects = """
            projects:
              - name: locked
                sourceRepos: ["https://git.example.com/acme/*"]
                destinations: ["directory:\(self.fixture.targets.path)/*"]
              - name: nowhere
                sourceRepos: ["git://127.0.0.1:*/**"]
                destinations: ["directory:/srv/rendered/*"]

            """
        let configuration = try self.fixture.configuration(
            apps: [self.fixture.app("shop", project: "locked"), self.fixture.app("cart", path: "apps/shop", project: "nowhere")],
            projects: projects
        )
        let engine = try self.fixture.engine(configuration)
        let events = await engine.handle(self.fixture.change(after: commit), id: "c1")
        #expect(events.map(\.phase) == [.failed, .failed])
        #expect(events.first { $0.app == "shop" }?.message?.contains("does not allow source") == true)
        #expect(events.first { $0.app == "cart" }?.message?.contains("does not allow destination") == true)
        #expect(!FileManager.default.fileExists(atPath: self.fixture.targetPath("shop")))
        // Refusals are not retried: nothing is due even well past the apps' 100 ms retry backoff.
        #expect(!engine.dueWork(among: configuration.apps, now: .now + .seconds(10)).contains { if case .retry = $0.1 { true } else { false } })
    }

    @Test func selfHealRestoresAHandEditedFileAndWithoutItDriftIsReportedOnce() async throws {
        let commit = try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "1")])
        let configuration = try self.fixture.configuration(apps: [
            self.fixture.app("shop", selfHeal: true),
            self.fixture.app("cart", path: "apps/shop", selfHeal: false),
        ])
        let engine = try self.fixture.engine(configuration)
        _ = await engine.handle(self.fixture.change(after: commit), id: "c1")
        let file = "configmap_shop_shop.yaml"
        for app in ["shop", "cart"] {
            try Data("hand edited\n".utf8).write(to: URL(fileURLWithPath: "\(self.fixture.targetPath(app))/\(file)"))
        }

        let healed = await engine.checkDrift(configuration.app(named: "shop")!)
        #expect(healed?.phase == .healed)
        #expect(healed?.trigger == "self-heal")
        #expect(healed?.resources?.updated == 1)
        #expect(self.fixture.read("shop", file)?.contains("value: \"1\"") == true)

        let drift = await engine.checkDrift(configuration.app(named: "cart")!)
        #expect(drift?.phase == .driftDetected)
        #expect(drift?.message?.contains(file) == true)
        #expect(self.fixture.read("cart", file) == "hand edited\n")
        #expect(await engine.checkDrift(configuration.app(named: "cart")!) == nil)
    }
}
