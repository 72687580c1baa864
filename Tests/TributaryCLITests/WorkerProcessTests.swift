import Foundation
import Synchronization
import Testing
import TributaryCore
import TributaryKafka
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
            [TributaryProcess.executable.path, "broker", "--partitions", "6", "--bootstrap-file", bootstrapFile.path, "--log-level", "warning"],
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
        let file = work.appendingPathComponent("app/config.yaml")
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\n  namespace: demo\ndata:\n  value: \"\(value)\"\n".utf8).write(to: file)
        try run(["git", "-C", work.path, "add", "-A"])
        try run(["git", "-C", work.path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "value \(value)"])
        try run(["git", "-C", work.path, "push", "-q", "origin", "HEAD:refs/heads/main"])
        return try run(["git", "-C", work.path, "rev-parse", "HEAD"])
    }

    func writeConfiguration(apps: [String]) throws -> String {
        var yaml = "kafka:\n  brokers: \"\(self.bootstrap)\"\n  partitions: 6\napps:\n"
        for name in apps {
            yaml += """
                  - name: \(name)
                    source: { repoURL: "\(self.daemon.url("\(name).git"))", targetRevision: main, path: app }
                    destination: { directory: "\(self.target(name))" }
                    syncPolicy: { automated: { prune: true }, interval: 1h }

                """
        }
        let path = self.root.appendingPathComponent("tributary.yaml").path
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

    /// Starts a worker whose status endpoint takes a port of the kernel's choosing (a port picked
    /// beforehand can be taken by a parallel test before the worker binds it), read from its output.
    func startWorker(_ name: String, config: String) async throws -> (process: ChildProcess, port: Int) {
        let logPath = self.root.appendingPathComponent("\(name).log").path
        let process = try ChildProcess(
            [
                TributaryProcess.executable.path, "worker", "--config", config, "--data-dir", self.root.appendingPathComponent("data-\(name)").path,
                "--session-timeout", "3", "--http-address", "127.0.0.1:0", "--log-level", "info",
            ],
            outputPath: logPath
        )
        self.children.append(process)
        var port = 0
        try await self.waitWithLogs("\(name) to serve its status endpoint") {
            guard let output = try? String(contentsOfFile: logPath, encoding: .utf8), let marker = output.range(of: "_HTTP=http://127.0.0.1:") else { return false }
            port = Int(output[marker.upperBound...].prefix { $0.isNumber }) ?? 0
            return port != 0
        }
        return (process, port)
    }

    /// `waitUntil`, recording the workers' output when it times out.
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

    /// The partitions a worker reports on `/readyz`; nil until it has joined.
    func partitions(port: Int) -> [Int]? {
        guard let text = try? run(["curl", "-sf", "http://127.0.0.1:\(port)/readyz"]), text.hasPrefix("ready: partitions") else { return nil }
        return text.dropFirst("ready: partitions".count).split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    func publish(_ producer: KafkaProducer, app: String, after: String, delivery: String) async throws -> KafkaDeliveryReport {
        let key = RepositoryKey(url: self.daemon.url("\(app).git"))!.rawValue
        let change = ChangeEvent(
            provider: "github", deliveryID: delivery, repository: .init(key: key, cloneURLs: [self.daemon.url("\(app).git")]),
            ref: "refs/heads/main", before: String(repeating: "0", count: 40), after: after
        )
        return try await producer.deliver(try CloudEvent(source: "test", type: ChangeEvent.eventType, payload: change).kafkaMessage(topic: "tributary.changes", key: key))
    }

    /// Reads `tributary.sync` from the start in the background: delivery ids seen, per app phases.
    final class SyncLog: Sendable {
        let events = Mutex<[SyncEvent]>([])
        var deliveries: Set<String> { self.events.withLock { Set($0.compactMap(\.deliveryID)) } }
    }

    func readSyncEvents(into log: SyncLog) throws -> KafkaConsumer {
        var configuration = KafkaConsumerConfiguration(kafka: KafkaConfiguration(bootstrapServers: self.bootstrap), groupID: "test-reader-\(UUID().uuidString.prefix(6))")
        configuration.sessionTimeout = .seconds(3)
        configuration.heartbeatInterval = .milliseconds(200)
        let consumer = try KafkaConsumer(configuration: configuration, logger: .init(label: "test"))
        try consumer.subscribe(topics: ["tributary.sync"])
        return consumer
    }

    @Test func twoWorkersShareTheAppsAndAKilledOneLosesNothing() async throws {
        let apps = (0..<10).map { "app-\($0)" }
        var works: [String: URL] = [:]
        var latest: [String: String] = [:]
        var latestValue: [String: Int] = [:]
        for app in apps {
            works[app] = try self.makeRepository(app)
            latest[app] = try self.commit(works[app]!, value: 0)
        }
        let config = try self.writeConfiguration(apps: apps)
        let first = try await self.startWorker("worker-a", config: config)
        let second = try await self.startWorker("worker-b", config: config)
        try await self.waitWithLogs("both workers to hold partitions") {
            (self.partitions(port: first.port)?.isEmpty == false) && (self.partitions(port: second.port)?.isEmpty == false)
        }

        let log = SyncLog()
        let reader = try self.readSyncEvents(into: log)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: KafkaConfiguration(bootstrapServers: self.bootstrap)), logger: .init(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for try await message in reader.messages {
                    let event = try CloudEvent(kafkaMessage: message).decodePayload(as: SyncEvent.self)
                    log.events.withLock { $0.append(event) }
                }
            }
            var deliveries: [String] = []
            var survivorPort = 0
            for index in 0..<50 {
                let app = apps[index % apps.count]
                latest[app] = try self.commit(works[app]!, value: index + 1)
                latestValue[app] = index + 1
                let delivery = "delivery-\(index)"
                _ = try await self.publish(producer, app: app, after: latest[app]!, delivery: delivery)
                deliveries.append(delivery)
                if index == 24 {
                    // Kill the worker with the most partitions, mid-stream, without warning.
                    let victim = (self.partitions(port: first.port)?.count ?? 0) >= (self.partitions(port: second.port)?.count ?? 0) ? first : second
                    let survivor = victim.port == first.port ? second : first
                    let victimPartitions = Set(self.partitions(port: victim.port) ?? [])
                    let victimApps = apps.filter {
                        let key = RepositoryKey(url: self.daemon.url("\($0).git"))!.rawValue
                        return victimPartitions.contains(Int(KafkaPartitioner.partition(forKey: key, partitionCount: 6).rawValue))
                    }
                    #expect(!victimApps.isEmpty, "the killed worker owned apps")
                    #expect(victim.process.signal(SIGKILL, waitingUpTo: .seconds(5)) == 128 + SIGKILL)
                    survivorPort = survivor.port
                }
                try await Task.sleep(for: .milliseconds(40))
            }
            try await self.waitWithLogs("every app at its latest revision and every change with a sync event", timeout: .seconds(90)) {
                apps.allSatisfy { self.syncedRevision($0) == latest[$0] } && Set(deliveries).isSubset(of: log.deliveries)
            }
            #expect(self.partitions(port: survivorPort)?.sorted() == Array(0..<6), "the survivor took every partition")
            await reader.close()
            await producer.shutdown()
            try await tasks.waitForAll()
        }
        for app in apps {
            let text = try String(contentsOfFile: "\(self.target(app))/configmap_demo_config.yaml", encoding: .utf8)
            #expect(text.contains("value: \"\(latestValue[app] ?? 0)\""))
        }
        #expect(log.events.withLock { $0 }.allSatisfy { $0.phase != .failed })
    }

    @Test func sigtermFinishesTheSyncInFlightAndCommitsWhatItPublished() async throws {
        let work = try self.makeRepository("shop")
        var commit = try self.commit(work, value: 0)
        let config = try self.writeConfiguration(apps: ["shop"])
        let worker = try await self.startWorker("worker", config: config)
        try await self.waitWithLogs("the worker to join") { self.partitions(port: worker.port)?.isEmpty == false }

        let log = SyncLog()
        let reader = try self.readSyncEvents(into: log)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: KafkaConfiguration(bootstrapServers: self.bootstrap)), logger: .init(label: "test"))
        var offsets: [Int64: String] = [:]
        var partition = KafkaPartition(0)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for try await message in reader.messages {
                    let event = try CloudEvent(kafkaMessage: message).decodePayload(as: SyncEvent.self)
                    log.events.withLock { $0.append(event) }
                }
            }
            for index in 0..<20 {
                commit = try self.commit(work, value: index + 1)
                let report = try await self.publish(producer, app: "shop", after: commit, delivery: "delivery-\(index)")
                offsets[report.offset.rawValue] = "delivery-\(index)"
                partition = report.partition
                if index == 5 {
                    try await waitUntil("a first sync event", timeout: .seconds(30)) { !log.deliveries.isEmpty }
                    let metrics = try run(["curl", "-sf", "http://127.0.0.1:\(worker.port)/metrics"])
                    let succeeded = metrics.split(separator: "\n").first { $0.hasPrefix("tributary_worker_syncs_total{outcome=\"succeeded\"}") }
                    #expect((succeeded?.split(separator: " ").last).flatMap { Int($0) } ?? 0 >= 1, "\(metrics)")
                    #expect(metrics.contains("tributary_worker_stage_seconds_count{stage=\"render\"}"))
                    #expect(worker.process.signal(SIGTERM, waitingUpTo: .seconds(15)) == 0)
                }
            }
            try await Task.sleep(for: .seconds(2))
            await reader.close()
            await producer.shutdown()
            try await tasks.waitForAll()
        }
        let inspector = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: KafkaConfiguration(bootstrapServers: self.bootstrap), groupID: "tributary-workers"),
            logger: .init(label: "test")
        )
        let committed = try #require(try await inspector.committedOffsets(for: [KafkaTopicPartition(topic: "tributary.changes", partition: partition)]).first).offset.rawValue
        await inspector.close()
        #expect(committed > 0)
        // Exactly the changes before the committed offset have sync events: nothing published was left
        // uncommitted, and nothing was committed without its event.
        let published = log.deliveries
        for (offset, delivery) in offsets {
            #expect(published.contains(delivery) == (offset < committed), "offset \(offset), committed \(committed)")
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
        try await Task.sleep(for: .seconds(3))  // time for any duplicate to show up
        let all = delivered()
        #expect(all.count == expected.count, "duplicates: \(Dictionary(grouping: all, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted())")
        let notifierOutput = try String(contentsOfFile: self.root.appendingPathComponent("notifier-2.log").path, encoding: .utf8)
        let marker = try #require(notifierOutput.range(of: "_HTTP=http://127.0.0.1:"), "notifier-2 printed its status address")
        let metricsPort = try #require(Int(notifierOutput[marker.upperBound...].prefix { $0.isNumber }))
        let metrics = try run(["curl", "-sf", "http://127.0.0.1:\(metricsPort)/metrics"])
        #expect(metrics.contains("tributary_notifications_total{outcome=\"delivered\"}"))
    }
}
