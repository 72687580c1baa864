import Crypto
import Foundation
import Synchronization
import Testing
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding
import TributaryTestSupport

/// Worker processes against a `tributary broker` process: scale-out, a killed worker, SIGTERM.
@Suite("Worker processes", .serialized, .timeLimit(.minutes(4)))
final class WorkerProcessTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-workers-\(UUID().uuidString.prefix(8))")
    var served: URL { self.root.appendingPathComponent("served") }
    var children: [ChildProcess] = []
    let daemon: GitDaemon
    let broker: ChildProcess
    let bootstrap: String

    init() async throws {
        try FileManager.default.createDirectory(at: self.root.appendingPathComponent("served"), withIntermediateDirectories: true)
        self.daemon = try GitDaemon(serving: self.root.appendingPathComponent("served"))
        let bootstrapFile = self.root.appendingPathComponent("bootstrap")
        self.broker = try ChildProcess(
            [TributaryProcess.executable.path, "broker", "--partitions", "6", "--cluster", "east", "--cluster", "west", "--bootstrap-file", bootstrapFile.path, "--log-level", "warning"],
            outputPath: self.root.appendingPathComponent("broker.log").path
        )
        var bootstrap = ""
        try await waitUntil("the broker's bootstrap file", timeout: .seconds(30)) {
            bootstrap = (try? String(contentsOf: bootstrapFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            return !bootstrap.isEmpty
        }
        self.bootstrap = bootstrap
    }

    deinit {
        for child in self.children { child.stop() }
        self.broker.stop()
        try? FileManager.default.removeItem(at: self.root)
    }

    /// A repository `name.git` served by the daemon, with a work tree to commit from.
    func makeRepository(_ name: String) throws -> URL {
        let work = self.root.appendingPathComponent("work-\(name)")
        try run(["git", "init", "-q", "--bare", "-b", "main", self.served.appendingPathComponent("\(name).git").path])
        try run(["git", "init", "-q", "-b", "main", work.path])
        try run(["git", "-C", work.path, "remote", "add", "origin", self.served.appendingPathComponent("\(name).git").path])
        return work
    }

    func commit(_ work: URL, value: Int) throws -> String {
        try self.commit(work, files: ["app/config.yaml": Self.configMap("config", value)])
    }

    /// Writes files (path → text), commits and pushes; returns the new commit.
    func commit(_ work: URL, files: [String: String]) throws -> String {
        for (path, text) in files {
            let file = work.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: file)
        }
        try run(["git", "-C", work.path, "add", "-A"])
        try run(["git", "-C", work.path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "change"])
        try run(["git", "-C", work.path, "push", "-q", "origin", "HEAD:refs/heads/main"])
        return try run(["git", "-C", work.path, "rev-parse", "HEAD"])
    }

    static func configMap(_ name: String, _ value: Int) -> String {
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \(name)\n  namespace: demo\ndata:\n  value: \"\(value)\"\n"
    }

    /// One app per name, each in `name.git` at `app/`, or all in `monorepo.git` at `apps/<name>`.
    func writeConfiguration(apps: [String], monorepo: String? = nil, clusters: [String: String] = [:], file: String = "tributary.yaml") throws -> String {
        var yaml = "kafka:\n  brokers: \"\(self.bootstrap)\"\n  partitions: 6\napps:\n"
        for name in apps {
            let source = monorepo.map { "repoURL: \"\(self.daemon.url("\($0).git"))\", targetRevision: main, path: apps/\(name)" }
                ?? "repoURL: \"\(self.daemon.url("\(name).git"))\", targetRevision: main, path: app"
            let cluster = clusters[name].map { "name: \($0), " } ?? ""
            yaml += """
                  - name: \(name)
                    source: { \(source) }
                    destination: { \(cluster)directory: "\(self.target(name))" }
                    syncPolicy: { automated: { prune: true }, interval: 1h }

                """
        }
        let path = self.root.appendingPathComponent(file).path
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func target(_ app: String) -> String { self.root.appendingPathComponent("targets/\(app)").path }

    func syncedRevision(_ app: String) -> String? {
        guard let data = FileManager.default.contents(atPath: "\(self.target(app))/.tributary-inventory"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return object["revision"] as? String
    }

    /// Starts a process whose status endpoint takes a port of the kernel's choosing (a port picked
    /// beforehand can be taken by a parallel test before the process binds it), read from its output.
    func start(_ name: String, _ arguments: [String]) async throws -> (process: ChildProcess, port: Int) {
        try await self.launch(name, arguments + [
            "--data-dir", self.root.appendingPathComponent("data-\(name)").path,
            "--session-timeout", "3", "--http-address", "127.0.0.1:0", "--log-level", "info",
        ], announcing: "_HTTP=http://127.0.0.1:", what: "serve its status endpoint")
    }

    /// Runs `tributary ARGUMENTS`; returns the process and the port it prints after `marker`.
    func launch(_ name: String, _ arguments: [String], announcing marker: String, what: String) async throws -> (process: ChildProcess, port: Int) {
        let logPath = self.root.appendingPathComponent("\(name).log").path
        let process = try ChildProcess([TributaryProcess.executable.path] + arguments, outputPath: logPath)
        self.children.append(process)
        var port = 0
        try await self.waitWithLogs("\(name) to \(what)") {
            guard let output = try? String(contentsOfFile: logPath, encoding: .utf8), let found = output.range(of: marker) else { return false }
            port = Int(output[found.upperBound...].prefix { $0.isNumber }) ?? 0
            return port != 0
        }
        return (process, port)
    }

    func startWorker(_ name: String, config: String, cluster: String? = nil, extra: [String] = []) async throws -> (process: ChildProcess, port: Int) {
        try await self.start(name, ["worker", "--config", config] + (cluster.map { ["--cluster", $0] } ?? []) + extra)
    }

    func startPlanner(config: String) async throws -> (process: ChildProcess, port: Int) {
        try await self.start("planner", ["plan", "--config", config])
    }

    /// `waitUntil`, recording the processes' output when it times out.
    func waitWithLogs(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
        do {
            try await waitUntil(what, timeout: timeout, condition)
        } catch {
            let logs = (try? FileManager.default.contentsOfDirectory(atPath: self.root.path))?.filter { $0.hasSuffix(".log") }.sorted() ?? []
            for log in logs {
                let output = (try? String(contentsOfFile: self.root.appendingPathComponent(log).path, encoding: .utf8)) ?? ""
                Issue.record("\(log), last lines:\n\(output.split(separator: "\n").suffix(30).joined(separator: "\n"))")
            }
            throw error
        }
    }

    /// The partitions a process reports on `/readyz`; nil until it has joined.
    func partitions(port: Int) -> [Int]? {
        guard let text = try? run(["curl", "-sf", "http://127.0.0.1:\(port)/readyz"]), text.hasPrefix("ready: partitions") else { return nil }
        return text.dropFirst("ready: partitions".count).split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// How many passes a process's stage commit loop has made (`tributary_stage_commit_rounds_total`).
    func commitRounds(port: Int, stage: String) -> Int? {
        guard let text = try? run(["curl", "-sf", "http://127.0.0.1:\(port)/metrics"]) else { return nil }
        let prefix = "tributary_stage_commit_rounds_total{stage=\"\(stage)\"} "
        return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) }
    }

    func publish(_ producer: KafkaProducer, repository: String, before: String = String(repeating: "0", count: 40), after: String, delivery: String) async throws -> KafkaDeliveryReport {
        let key = RepositoryKey(url: self.daemon.url("\(repository).git"))!.rawValue
        let change = ChangeEvent(
            provider: "github", deliveryID: delivery, repository: .init(key: key, cloneURLs: [self.daemon.url("\(repository).git")]),
            ref: "refs/heads/main", before: before, after: after
        )
        return try await producer.deliver(try CloudEvent(source: "test", type: ChangeEvent.eventType, payload: change).kafkaMessage(topic: "tributary.changes", key: key))
    }

    /// Sync events read from `tributary.sync`, each with the `ce_source` of the worker that sent it.
    final class SyncLog: Sendable {
        let events = Mutex<[(event: SyncEvent, source: String)]>([])
        /// The next offset to read, by partition.
        let positions = Mutex<[Int32: Int64]>([:])
        var deliveries: Set<String> { self.events.withLock { Set($0.compactMap(\.event.deliveryID)) } }
        func matching(_ predicate: (SyncEvent) -> Bool) -> [(event: SyncEvent, source: String)] {
            self.events.withLock { $0.filter { predicate($0.event) } }
        }
    }

    func readSyncEvents() throws -> KafkaConsumer {
        var configuration = KafkaConsumerConfiguration(kafka: KafkaConfiguration(bootstrapServers: self.bootstrap), groupID: "test-reader-\(UUID().uuidString.prefix(6))")
        configuration.sessionTimeout = .seconds(3)
        configuration.heartbeatInterval = .milliseconds(200)
        let consumer = try KafkaConsumer(configuration: configuration, logger: .init(label: "test"))
        try consumer.subscribe(topics: ["tributary.sync"])
        return consumer
    }

    static func drain(_ reader: KafkaConsumer, into log: SyncLog) async throws {
        for try await message in reader.messages {
            let cloudEvent = try CloudEvent(kafkaMessage: message)
            let event = try cloudEvent.decodePayload(as: SyncEvent.self)
            log.events.withLock { $0.append((event, cloudEvent.source)) }
            log.positions.withLock { $0[message.partition.rawValue] = message.offset.rawValue + 1 }
        }
    }

    /// Whether `log` has read every record now in `tributary.sync`.
    func hasRead(_ log: SyncLog) async throws -> Bool {
        let inspector = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: KafkaConfiguration(bootstrapServers: self.bootstrap), groupID: "test-inspector"), logger: .init(label: "test")
        )
        let count = try await inspector.partitionCounts(timeout: .seconds(10))["tributary.sync"] ?? 0
        var caughtUp = count > 0
        for partition in 0..<count {
            let end = try await inspector.watermarks(topic: "tributary.sync", partition: KafkaPartition(partition)).high.rawValue
            if end > 0 && log.positions.withLock({ $0[Int32(partition)] ?? 0 }) < end { caughtUp = false }
        }
        await inspector.close()
        return caughtUp
    }

    func makeProducer() throws -> KafkaProducer {
        try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: KafkaConfiguration(bootstrapServers: self.bootstrap)), logger: .init(label: "test"))
    }

    /// Runs `body` with a producer and a log of `tributary.sync` filled in the background; shuts
    /// both down afterwards and returns the log.
    @discardableResult
    func withSyncLog(_ body: (SyncLog, KafkaProducer) async throws -> Void) async throws -> SyncLog {
        let log = SyncLog()
        let reader = try self.readSyncEvents()
        let producer = try self.makeProducer()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await Self.drain(reader, into: log) }
            try await body(log, producer)
            await producer.shutdown()
            await reader.close()
            try await tasks.waitForAll()
        }
        return log
    }

    func committed(group: String, topic: String, partition: Int) async throws -> Int64 {
        let inspector = try KafkaConsumer(configuration: KafkaConsumerConfiguration(kafka: KafkaConfiguration(bootstrapServers: self.bootstrap), groupID: group), logger: .init(label: "test"))
        let offset = try await inspector.committedOffsets(for: [KafkaTopicPartition(topic: topic, partition: KafkaPartition(partition))]).first?.offset.rawValue ?? -1
        await inspector.close()
        return offset
    }

    @Test func threeWorkersShareOneMonorepoAndAKilledOneLosesNothing() async throws {
        let touched = (0..<30).map { String(format: "app-%02d", $0) }
        let untouched = (30..<36).map { String(format: "app-%02d", $0) }
        let apps = touched + untouched
        let work = try self.makeRepository("monorepo")
        var head = try self.commit(work, files: Dictionary(uniqueKeysWithValues: apps.map { ("apps/\($0)/config.yaml", Self.configMap($0, 0)) }))
        let config = try self.writeConfiguration(apps: apps, monorepo: "monorepo")
        _ = try await self.startPlanner(config: config)
        let workers = [
            try await self.startWorker("worker-a", config: config),
            try await self.startWorker("worker-b", config: config),
            try await self.startWorker("worker-c", config: config),
        ]
        try await self.waitWithLogs("three workers holding partitions") { workers.allSatisfy { self.partitions(port: $0.port)?.isEmpty == false } }
        // Each worker syncs the apps it owns once it joins.
        try await self.waitWithLogs("the first sync of every app") { apps.allSatisfy { self.syncedRevision($0) == head } }

        try await self.withSyncLog { log, producer in
            // One push touching 30 of the 36 apps.
            let before = head
            head = try self.commit(work, files: Dictionary(uniqueKeysWithValues: touched.map { ("apps/\($0)/config.yaml", Self.configMap($0, 1)) }))
            let after = head
            _ = try await self.publish(producer, repository: "monorepo", before: before, after: after, delivery: "monorepo-push")
            try await self.waitWithLogs("every app's event for the push") {
                Set(log.matching { $0.deliveryID == "monorepo-push" }.map(\.event.app)) == Set(apps)
            }
            let events = log.matching { $0.deliveryID == "monorepo-push" }
            for app in touched {
                let applied = events.filter { $0.event.app == app && $0.event.phase == .succeeded && $0.event.revision == after }
                #expect(applied.count == 1, "\(app) applied once")
                #expect(self.syncedRevision(app) == after)
            }
            for app in untouched {
                #expect(events.filter { $0.event.app == app }.map(\.event.phase) == [.skipped], "\(app) is skipped")
                #expect(self.syncedRevision(app) == before)
            }
            let share = Dictionary(grouping: events.filter { $0.event.phase == .succeeded }, by: \.source).mapValues(\.count)
            #expect(share.count == 3, "every worker synced some of the apps: \(share)")

            // A stream of pushes, each touching a few apps; the worker with the most partitions is killed halfway.
            var latestValue = Dictionary(uniqueKeysWithValues: touched.map { ($0, 1) })
            var latestCommit = Dictionary(uniqueKeysWithValues: touched.map { ($0, after) })
            var heads = [after]
            for index in 0..<30 {
                let changed = (0..<4).map { touched[(index * 7 + $0 * 3) % touched.count] }
                let before = head
                head = try self.commit(work, files: Dictionary(uniqueKeysWithValues: changed.map { ("apps/\($0)/config.yaml", Self.configMap($0, index + 2)) }))
                heads.append(head)
                for app in changed {
                    latestValue[app] = index + 2
                    latestCommit[app] = head
                }
                _ = try await self.publish(producer, repository: "monorepo", before: before, after: head, delivery: "stream-\(index)")
                if index == 14 {
                    let victim = workers.max { (self.partitions(port: $0.port)?.count ?? 0) < (self.partitions(port: $1.port)?.count ?? 0) }!
                    #expect(victim.process.signal(SIGKILL, waitingUpTo: .seconds(5)) == 128 + SIGKILL)
                }
            }
            // An app holds the last commit that touched it, or a later one: a new owner's first
            // reconcile renders the head again; later pushes are `skipped` for it, not written.
            func current(_ app: String) -> Bool {
                guard let synced = self.syncedRevision(app), let at = heads.firstIndex(of: synced) else { return false }
                return at >= heads.firstIndex(of: latestCommit[app]!)!
            }
            do {
                try await self.waitWithLogs("every app at the last revision that touched it", timeout: .seconds(90)) { touched.allSatisfy(current) }
            } catch {
                for app in touched where !current(app) {
                    let history = log.matching { $0.app == app }.map { "\($0.event.deliveryID ?? "-") \($0.event.phase.rawValue) \($0.event.revision.prefix(8)) \($0.event.message ?? "")" }
                    Issue.record("\(app) holds \(self.syncedRevision(app)?.prefix(8) ?? "nothing"), expected \(latestCommit[app]!.prefix(8)):\n\(history.joined(separator: "\n"))")
                }
                throw error
            }
            for app in touched {
                let text = try String(contentsOfFile: "\(self.target(app))/configmap_demo_\(app).yaml", encoding: .utf8)
                #expect(text.contains("value: \"\(latestValue[app]!)\""), "\(app)")
            }
            #expect(log.matching { $0.phase == .failed }.isEmpty)
        }
    }

    @Test func eachClustersWorkersSyncOnlyThatClustersApps() async throws {
        let clusters = ["east-1": "east", "east-2": "east", "west-1": "west", "west-2": "west"]
        let apps = clusters.keys.sorted()
        let work = try self.makeRepository("fleet")
        var head = try self.commit(work, files: Dictionary(uniqueKeysWithValues: apps.map { ("apps/\($0)/config.yaml", Self.configMap($0, 0)) }))
        let config = try self.writeConfiguration(apps: apps, monorepo: "fleet", clusters: clusters)
        _ = try await self.startPlanner(config: config)
        let east = try await self.startWorker("worker-east", config: config, cluster: "east")
        let west = try await self.startWorker("worker-west", config: config, cluster: "west")
        try await self.waitWithLogs("both clusters' workers holding partitions") {
            self.partitions(port: east.port)?.isEmpty == false && self.partitions(port: west.port)?.isEmpty == false
        }
        let log = try await self.withSyncLog { log, producer in
            let before = head
            head = try self.commit(work, files: Dictionary(uniqueKeysWithValues: apps.map { ("apps/\($0)/config.yaml", Self.configMap($0, 1)) }))
            let after = head
            // One webhook reaches both clusters.
            _ = try await self.publish(producer, repository: "fleet", before: before, after: after, delivery: "fleet-push")
            try await self.waitWithLogs("every app of both clusters applied") { apps.allSatisfy { self.syncedRevision($0) == after } }
            try await self.waitWithLogs("every app's event") { Set(log.matching { $0.deliveryID == "fleet-push" }.map(\.event.app)) == Set(apps) }
        }
        let sources = Dictionary(grouping: log.matching { _ in true }, by: \.event.app).mapValues { Set($0.map(\.source)) }
        let eastSources = Set(sources["east-1"]!).union(sources["east-2"]!)
        let westSources = Set(sources["west-1"]!).union(sources["west-2"]!)
        #expect(eastSources.count == 1 && westSources.count == 1 && eastSources.isDisjoint(with: westSources), "\(sources)")
        #expect(log.matching { $0.app.hasPrefix("east") }.allSatisfy { $0.event.cluster == "east" })
        let eastLog = try String(contentsOfFile: self.root.appendingPathComponent("worker-east.log").path, encoding: .utf8)
        #expect(eastLog.contains("apps=2") && eastLog.contains("tributary.requests.east"))
    }

    @Test func aClustersWorkerAppliesItsAppsToTheKubernetesAPIAndReportsHealth() async throws {
        let cluster = try KubernetesAPIServer(directory: self.root)
        let namespace = "w-\(UUID().uuidString.prefix(8).lowercased())"
        let work = try self.makeRepository("kube")
        let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  value: \"1\"\n"
        var head = try self.commit(work, files: ["app/settings.yaml": manifest])
        let config = self.root.appendingPathComponent("kube.yaml").path
        try """
            kafka: { brokers: "\(self.bootstrap)", partitions: 6 }
            clusters:
              - name: east
                auth: { kubeconfig: { file: "\(cluster.kubeconfig)", context: \(cluster.context) } }
            apps:
              - name: web
                source: { repoURL: "\(self.daemon.url("kube.git"))", targetRevision: main, path: app }
                destination: { name: east, namespace: \(namespace) }
                syncPolicy: { automated: { prune: true }, syncOptions: [CreateNamespace=true], interval: 1h }
            """.write(toFile: config, atomically: true, encoding: .utf8)
        _ = try await self.startPlanner(config: config)
        let east = try await self.startWorker("worker-east", config: config, cluster: "east")
        try await self.waitWithLogs("the east worker holding partitions") { self.partitions(port: east.port)?.isEmpty == false }
        // The worker reconciles its new app at once: let that finish, so the push below is news to it.
        try await self.waitWithLogs("the first reconcile applied") {
            ((try? cluster.get("configmap", "tributary-inventory-web", namespace: "tributary-system"))??["data"] as? [String: String])?["revision"] == head
        }
        let log = try await self.withSyncLog { log, producer in
            let before = head
            head = try self.commit(work, files: ["app/settings.yaml": manifest.replacingOccurrences(of: "\"1\"", with: "\"2\"")])
            let after = head
            _ = try await self.publish(producer, repository: "kube", before: before, after: after, delivery: "kube-push")
            try await self.waitWithLogs("the push's event") { !log.matching { $0.deliveryID == "kube-push" }.isEmpty }
        }
        let event = try #require(log.matching { $0.deliveryID == "kube-push" }.first?.event)
        #expect(event.phase == .succeeded, "\(event.message ?? "")")
        #expect(event.cluster == "east")
        #expect(event.destination == "kubernetes:east/\(namespace)")
        #expect(event.health == .init(status: "Healthy"))
        let live = try #require(try cluster.get("configmap", "settings", namespace: namespace))
        #expect((live["data"] as? [String: String])?["value"] == "2")
    }

    @Test func tributarySyncHasTheOwningWorkerOfThreeSyncAManualAppAndPrintsTheResult() async throws {
        let work = try self.makeRepository("shop")
        let head = try self.commit(work, value: 1)
        let config = try self.writeConfiguration(apps: ["shop"])
        // Manual: no automated key.
        let yaml = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "syncPolicy: { automated: { prune: true }, interval: 1h }", with: "syncPolicy: { interval: 1h }")
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        var ports: [Int] = []
        for index in 1...3 { ports.append(try await self.startWorker("worker-\(index)", config: config).port) }
        try await self.waitWithLogs("the three workers sharing the partitions") {
            ports.compactMap { self.partitions(port: $0) }.reduce(0) { $0 + $1.count } == 6 && ports.allSatisfy { self.partitions(port: $0)?.isEmpty == false }
        }

        let preview = try await TributaryProcess(["sync", "--config", config, "--app", "shop", "--dry-run", "--timeout", "60", "--log-level", "warning"]).finish(timeout: .seconds(90))
        #expect(preview.status == 0, "\(preview.stderr)")
        #expect(preview.stdout.contains("shop out-of-sync at \(head.prefix(12)) (dry-run)"), "\(preview.stdout)")
        #expect(preview.stdout.contains("would create: configmap_demo_config.yaml"))
        #expect(self.syncedRevision("shop") == nil)

        let synced = try await TributaryProcess(["sync", "--config", config, "--app", "shop", "--timeout", "60", "--log-level", "warning"]).finish(timeout: .seconds(90))
        #expect(synced.status == 0, "\(synced.stderr)")
        #expect(synced.stdout.hasPrefix("shop succeeded at \(head.prefix(12)) (manual) on directory:\(self.target("shop")): created 1"), "\(synced.stdout)")
        #expect(self.syncedRevision("shop") == head)
        // Exactly one worker did it.
        let logs = try (1...3).map { try String(contentsOfFile: self.root.appendingPathComponent("worker-\($0).log").path, encoding: .utf8) }
        #expect(logs.filter { $0.contains("Sync failed") }.isEmpty)
    }

    @Test func aSuspendedAppIsOnlyObservedByEveryWorkerIncludingARestartedOneUntilResumed() async throws {
        let work = try self.makeRepository("shop")
        let first = try self.commit(work, value: 1)
        let config = try self.writeConfiguration(apps: ["shop"])
        _ = try await self.startPlanner(config: config)
        let workers = [try await self.startWorker("worker-1", config: config), try await self.startWorker("worker-2", config: config)]
        try await self.waitWithLogs("the first sync") { self.syncedRevision("shop") == first }

        let suspend = try await TributaryProcess(["suspend", "shop", "--reason", "change freeze", "--by", "alice", "--brokers", self.bootstrap, "--config", config, "--log-level", "warning"]).finish()
        #expect(suspend.status == 0, "\(suspend.stderr)")
        #expect(suspend.stdout == "shop suspended: change freeze (recorded in tributary.controls)\n")
        try await self.waitWithLogs("both workers to read the suspension") {
            (1...2).allSatisfy { ((try? String(contentsOfFile: self.root.appendingPathComponent("worker-\($0).log").path, encoding: .utf8)) ?? "").contains("App suspended") }
        }
        try await self.withSyncLog { log, producer in
            let second = try self.commit(work, value: 2)
            _ = try await self.publish(producer, repository: "shop", before: first, after: second, delivery: "frozen-push")
            // Reported once, by the push or by the reconcile the suspension itself started, whichever saw the commit first.
            try await self.waitWithLogs("the suspended app reported out of sync") { !log.matching { $0.revision == second }.isEmpty }
            let observed = try #require(log.matching { $0.revision == second }.first?.event)
            #expect(observed.phase == .outOfSync)
            #expect(observed.message == "a sync would update: configmap_demo_config.yaml; automated sync is suspended, so nothing was applied")
            #expect(self.syncedRevision("shop") == first)

            // Every worker restarted: the suspension is read back from the topic before anything syncs.
            let before = Set(log.matching { _ in true }.map(\.source))
            for worker in workers { worker.process.stop() }
            let restarted = try await self.startWorker("worker-3", config: config)
            try await self.waitWithLogs("the restarted worker's first look") { log.matching { _ in true }.contains { !before.contains($0.source) } }
            let firstLook = try #require(log.matching { _ in true }.first { !before.contains($0.source) }?.event)
            #expect(firstLook.phase == .outOfSync && firstLook.revision == second, "\(firstLook)")
            #expect(self.syncedRevision("shop") == first)

            let resume = try await TributaryProcess(["resume", "shop", "--brokers", self.bootstrap, "--config", config, "--log-level", "warning"]).finish()
            #expect(resume.status == 0, "\(resume.stderr)")
            try await self.waitWithLogs("the resumed app to catch up") { !log.matching { $0.phase == .succeeded && $0.revision == second }.isEmpty }
            #expect(self.syncedRevision("shop") == second)
            _ = restarted
        }
        let controls = try run([TributaryProcess.executable.path, "tail", "controls", "--brokers", self.bootstrap, "--max", "2", "--seconds", "20"])
        #expect(controls.contains(#"\"by\":\"alice\""#) && controls.contains(#"\"reason\":\"change freeze\""#), "\(controls)")
    }

    @Test func aWorkerWhoseConfigurationLacksAnAppHoldsItsRequestAndSaysWhy() async throws {
        let work = try self.makeRepository("shared")
        var head = try self.commit(work, files: ["apps/known/config.yaml": Self.configMap("known", 0), "apps/newcomer/config.yaml": Self.configMap("newcomer", 0)])
        let plannerConfig = try self.writeConfiguration(apps: ["known", "newcomer"], monorepo: "shared", file: "planner.yaml")
        let workerConfig = try self.writeConfiguration(apps: ["known"], monorepo: "shared", file: "worker.yaml")
        _ = try await self.startPlanner(config: plannerConfig)
        let worker = try await self.startWorker("worker", config: workerConfig, extra: ["--unknown-app-timeout", "8"])
        try await self.waitWithLogs("the worker to join") { self.partitions(port: worker.port)?.isEmpty == false }
        try await self.waitWithLogs("the known app's first sync") { self.syncedRevision("known") == head }

        let producer = try self.makeProducer()
        let before = head
        head = try self.commit(work, files: ["apps/newcomer/config.yaml": Self.configMap("newcomer", 1)])
        _ = try await self.publish(producer, repository: "shared", before: before, after: head, delivery: "newcomer-push")
        await producer.shutdown()
        var reason = ""
        try await self.waitWithLogs("/readyz to name the app it holds") {
            reason = (try? run(["curl", "-s", "http://127.0.0.1:\(worker.port)/readyz"])) ?? ""
            return reason.contains("holding a request for app newcomer")
        }
        #expect(reason.contains("does not have"))
        let partition = Int(KafkaPartitioner.partition(forKey: "newcomer", partitionCount: 6).rawValue)
        // Held: two commit passes later (so one began after the hold), nothing is committed past the request.
        let rounds = try #require(self.commitRounds(port: worker.port, stage: "worker"))
        try await self.waitWithLogs("two more commit passes") { (self.commitRounds(port: worker.port, stage: "worker") ?? 0) >= rounds + 2 }
        #expect(try await self.committed(group: "tributary-workers", topic: "tributary.requests", partition: partition) <= 0)
        // After the bounded wait it is dead-lettered, committed, and the worker is ready again.
        try await self.waitWithLogs("the request dead-lettered and committed", timeout: .seconds(30)) {
            try await self.committed(group: "tributary-workers", topic: "tributary.requests", partition: partition) >= 1
        }
        try await self.waitWithLogs("the worker ready again") { self.partitions(port: worker.port) != nil }
        let letter = try run([TributaryProcess.executable.path, "tail", "dlq", "--brokers", self.bootstrap, "--max", "1", "--seconds", "20"])
        #expect(letter.contains("newcomer"))
    }

    @Test func sigtermFinishesTheSyncInFlightAndCommitsWhatItPublished() async throws {
        let work = try self.makeRepository("shop")
        var commit = try self.commit(work, value: 0)
        let config = try self.writeConfiguration(apps: ["shop"])
        _ = try await self.startPlanner(config: config)
        let worker = try await self.startWorker("worker", config: config)
        try await self.waitWithLogs("the worker to join") { self.partitions(port: worker.port)?.isEmpty == false }

        let log = try await self.withSyncLog { log, producer in
            for index in 0..<20 {
                commit = try self.commit(work, value: index + 1)
                _ = try await self.publish(producer, repository: "shop", after: commit, delivery: "delivery-\(index)")
                if index == 5 {
                    try await waitUntil("a first sync event", timeout: .seconds(30)) { !log.deliveries.isEmpty }
                    let metrics = try run(["curl", "-sf", "http://127.0.0.1:\(worker.port)/metrics"])
                    let succeeded = metrics.split(separator: "\n").first { $0.hasPrefix("tributary_worker_syncs_total{outcome=\"succeeded\"}") }
                    #expect((succeeded?.split(separator: " ").last).flatMap { Int($0) } ?? 0 >= 1, "\(metrics)")
                    #expect(metrics.contains("tributary_worker_stage_seconds_count{stage=\"render\"}"))
                    #expect(worker.process.signal(SIGTERM, waitingUpTo: .seconds(15)) == 0)
                }
            }
            await producer.shutdown()
            // The planner (still running) turns all 20 changes into requests: read them back.
            let partition = KafkaPartitioner.partition(forKey: "shop", partitionCount: 6)
            try await waitUntil("20 requests for shop", timeout: .seconds(30)) { try await self.requests(partition: partition).count >= 20 }
            // The stopped worker publishes nothing more: read every sync event it did publish.
            try await waitUntil("every sync event read", timeout: .seconds(30)) { try await self.hasRead(log) }
        }
        let partition = KafkaPartitioner.partition(forKey: "shop", partitionCount: 6)
        let offsets = try await self.requests(partition: partition)
        let committed = try await self.committed(group: "tributary-workers", topic: "tributary.requests", partition: Int(partition.rawValue))
        #expect(committed > 0)
        // Exactly the changes before the committed offset have sync events: nothing published was left
        // uncommitted, and nothing was committed without its event.
        let published = log.deliveries
        for (offset, delivery) in offsets {
            #expect(published.contains(delivery) == (offset < committed), "offset \(offset), committed \(committed)")
        }
    }

    /// The requests on a partition of `tributary.requests`, by offset: their delivery ids.
    func requests(partition: KafkaPartition) async throws -> [Int64: String] {
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: KafkaConfiguration(bootstrapServers: self.bootstrap), groupID: "test-requests-\(UUID().uuidString.prefix(6))"),
            logger: .init(label: "test")
        )
        let (_, high) = try await consumer.watermarks(topic: "tributary.requests", partition: partition)
        try consumer.assign([KafkaTopicPartition(topic: "tributary.requests", partition: partition, offset: .beginning)])
        var result: [Int64: String] = [:]
        if high.rawValue > 0 {
            for try await message in consumer.messages {
                let request = try CloudEvent(kafkaMessage: message).decodePayload(as: SyncRequest.self)
                result[message.offset.rawValue] = request.deliveryID
                if message.offset.rawValue >= high.rawValue - 1 { break }
            }
        }
        await consumer.close()
        return result
    }

    /// Starts `tributary listen` on a free port; returns it with the port it listens on.
    func startListener(_ name: String, config: String) async throws -> (process: ChildProcess, port: Int) {
        try await self.launch(
            name, ["listen", "--config", config, "--address", "127.0.0.1:0", "--log-level", "info"], announcing: "LISTENING=http://127.0.0.1:", what: "listen"
        )
    }

    /// POSTs a GitHub push webhook signed with `secret`; returns the HTTP status.
    func postGitHubPush(port: Int, secret: String, delivery: String, repository: String, before: String, after: String) throws -> Int {
        let cloneURL = self.daemon.url("\(repository).git")
        let body = Data("""
            {"ref":"refs/heads/main","before":"\(before)","after":"\(after)","created":false,"deleted":false,"forced":false,\
            "repository":{"full_name":"acme/\(repository)","clone_url":"\(cloneURL)","html_url":"https://example.com/acme/\(repository)"},\
            "pusher":{"name":"octocat"},"commits":[]}
            """.utf8)
        let signature = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8))).map { String(format: "%02x", $0) }.joined()
        let file = self.root.appendingPathComponent("push-\(UUID().uuidString.prefix(6)).json")
        try body.write(to: file)
        let status = try run([
            "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "http://127.0.0.1:\(port)/hooks/github",
            "-H", "Content-Type: application/json", "-H", "X-GitHub-Event: push", "-H", "X-GitHub-Delivery: \(delivery)",
            "-H", "X-GitHub-Hook-ID: 42", "-H", "X-Hub-Signature-256: sha256=\(signature)", "--data-binary", "@\(file.path)",
        ])
        return Int(status) ?? 0
    }

    /// The records of every partition of `topic` that carry `delivery`, as (partition, offset).
    func records(of delivery: String, in topic: String) async throws -> [(partition: Int32, offset: Int64)] {
        struct Carrier: Decodable { var deliveryID: String? }
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: KafkaConfiguration(bootstrapServers: self.bootstrap), groupID: "test-records-\(UUID().uuidString.prefix(6))"),
            logger: .init(label: "test")
        )
        var found: [(partition: Int32, offset: Int64)] = []
        for index in 0..<6 {
            let partition = KafkaPartition(index)
            let (_, high) = try await consumer.watermarks(topic: topic, partition: partition)
            guard high.rawValue > 0 else { continue }
            try consumer.assign([KafkaTopicPartition(topic: topic, partition: partition, offset: .beginning)])
            for try await message in consumer.messages {
                // Records read ahead for the previous assignment may still arrive: skip them.
                guard message.partition == partition else { continue }
                if (try? CloudEvent(kafkaMessage: message).decodePayload(as: Carrier.self))?.deliveryID == delivery {
                    found.append((partition.rawValue, message.offset.rawValue))
                }
                if message.offset.rawValue >= high.rawValue - 1 { break }
            }
        }
        await consumer.close()
        return found
    }

    @Test func aPushRedeliveredToOtherListenerReplicasAndAfterAPlannerRestartIsSyncedOnce() async throws {
        let secret = "replica-test-hmac-secret"
        let work = try self.makeRepository("solo")
        let first = try self.commit(work, value: 1)
        let config = try self.writeConfiguration(apps: ["solo"])
        let yaml = try String(contentsOfFile: config, encoding: .utf8) + "webhooks:\n  github: { secrets: [ { value: \"\(secret)\" } ] }\n"
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: config))
        let planner = try await self.startPlanner(config: config)
        _ = try await self.startWorker("worker", config: config)
        try await self.waitWithLogs("the first sync") { self.syncedRevision("solo") == first }
        let replicas = [try await self.startListener("listener-a", config: config), try await self.startListener("listener-b", config: config)]

        try await self.withSyncLog { log, _ in
            let second = try self.commit(work, value: 2)
            // The host sends the delivery to one replica, then again (a timeout on its side) to another.
            #expect(try self.postGitHubPush(port: replicas[0].port, secret: secret, delivery: "redelivered", repository: "solo", before: first, after: second) == 202)
            try await self.waitWithLogs("the push applied") { self.syncedRevision("solo") == second }
            #expect(try self.postGitHubPush(port: replicas[1].port, secret: secret, delivery: "redelivered", repository: "solo", before: first, after: second) == 202)
            func plannerPassed(copies: Int) async throws -> Bool {
                let found = try await self.records(of: "redelivered", in: "tributary.changes")
                guard found.count == copies, let last = found.map(\.offset).max() else { return false }
                return try await self.committed(group: "tributary-planners", topic: "tributary.changes", partition: Int(found[0].partition)) > last
            }
            try await self.waitWithLogs("the planner to pass the second copy") { try await plannerPassed(copies: 2) }
            #expect(try run(["curl", "-sf", "http://127.0.0.1:\(planner.port)/metrics"]).contains("tributary_planner_redeliveries_total 1"))
            // A planner that restarts reads the partition back: a third copy, from a fresh replica, is dropped too.
            #expect(planner.process.signal(SIGTERM, waitingUpTo: .seconds(20)) == 0)
            let restarted = try await self.start("planner-2", ["plan", "--config", config])
            let third = try await self.startListener("listener-c", config: config)
            #expect(try self.postGitHubPush(port: third.port, secret: secret, delivery: "redelivered", repository: "solo", before: first, after: second) == 202)

            try await self.waitWithLogs("the restarted planner to pass the third copy") { try await plannerPassed(copies: 3) }
            let copies = try await self.records(of: "redelivered", in: "tributary.changes")
            #expect(Set(copies.map(\.partition)).count == 1, "all copies of a repository's deliveries meet on one partition")
            #expect(try await self.records(of: "redelivered", in: "tributary.requests").count == 1, "one sync request for the three copies")
            let metrics = try run(["curl", "-sf", "http://127.0.0.1:\(restarted.port)/metrics"])
            #expect(metrics.contains("tributary_planner_redeliveries_total 1"), "the restarted planner dropped the third copy")
            try await self.waitWithLogs("the sync event") { !log.matching { $0.deliveryID == "redelivered" }.isEmpty }
            let events = log.matching { $0.deliveryID == "redelivered" }
            #expect(events.map(\.event.phase) == [.succeeded], "one sync for the delivery: \(events.map(\.event.phase))")
        }
    }

    @Test func twoNotifierProcessesAndARestartDeliverEachNotificationOnce() async throws {
        let receiver = try HTTPReceiver(directory: self.root)
        let config = self.root.appendingPathComponent("notify.yaml").path
        try Data("""
            kafka: { brokers: "\(self.bootstrap)", partitions: 6 }
            sinks:
              - name: hook
                webhook: { url: { value: "\(receiver.url)" } }
            subscriptions:
              - triggers: [on-sync-succeeded]
                sinks: [hook]

            """.utf8).write(to: URL(fileURLWithPath: config))
        func startNotifier(_ name: String, http: Bool = false) throws -> ChildProcess {
            let process = try ChildProcess(
                [TributaryProcess.executable.path, "notify", "--config", config, "--session-timeout", "3", "--log-level", "info"]
                    + (http ? ["--http-address", "127.0.0.1:0"] : []),
                outputPath: self.root.appendingPathComponent("\(name).log").path
            )
            self.children.append(process)
            return process
        }
        let first = try startNotifier("notifier-1")
        _ = try startNotifier("notifier-2", http: true)

        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: KafkaConfiguration(bootstrapServers: self.bootstrap)), logger: .init(label: "test"))
        var expected = Set<String>()
        for round in 0..<3 {
            for app in 0..<10 {
                let revision = String(format: "%040x", round * 100 + app)
                expected.insert("app-\(app)@\(revision)")
                let now = Date()
                let sync = SyncEvent(
                    app: "app-\(app)", project: "default", repository: "github.com/acme/infra", ref: "main", revision: revision,
                    phase: .succeeded, destination: "directory:/srv/app-\(app)", startedAt: now, finishedAt: now
                )
                let event = try CloudEvent(source: "test", type: SyncEvent.eventType(for: .succeeded), subject: sync.app, payload: sync)
                // Every sync event twice, as a redelivery would.
                for _ in 0..<2 { _ = try await producer.deliver(event.kafkaMessage(topic: "tributary.sync", key: sync.app)) }
            }
            if round == 1 {
                // Restart one notifier in the middle.
                #expect(first.signal(SIGTERM, waitingUpTo: .seconds(20)) == 0)
                _ = try startNotifier("notifier-3")
            }
        }
        await producer.shutdown()
        func delivered() -> [String] {
            receiver.requests.compactMap { request in
                guard let object = try? JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any],
                      let data = object["data"] as? [String: Any], let app = data["app"] as? String, let revision = data["revision"] as? String
                else { return nil }
                return "\(app)@\(revision)"
            }
        }
        try await waitUntil("every notification delivered", timeout: .seconds(90)) { Set(delivered()) == expected }
        // Once both groups have committed everything, nothing will be routed or delivered again.
        let kafka = KafkaConfiguration(bootstrapServers: self.bootstrap)
        try await waitUntil("the notifiers to commit every record", timeout: .seconds(120)) {
            let routed = try await hasCommittedAll(kafka, group: "tributary-notifier", topic: "tributary.sync")
            let delivered = try await hasCommittedAll(kafka, group: "tributary-notification-delivery", topic: "tributary.notifications")
            return routed && delivered
        }
        let all = delivered()
        #expect(all.count == expected.count, "duplicates: \(Dictionary(grouping: all, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted())")
        let notifierOutput = try String(contentsOfFile: self.root.appendingPathComponent("notifier-2.log").path, encoding: .utf8)
        let marker = try #require(notifierOutput.range(of: "_HTTP=http://127.0.0.1:"), "notifier-2 printed its status address")
        let metricsPort = try #require(Int(notifierOutput[marker.upperBound...].prefix { $0.isNumber }))
        let metrics = try run(["curl", "-sf", "http://127.0.0.1:\(metricsPort)/metrics"])
        #expect(metrics.contains("tributary_notifications_total{outcome=\"delivered\"}"))
    }
}
