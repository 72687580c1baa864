import Foundation
import Testing
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding
import TributaryTestSupport

@Suite("The tributary command")
struct CommandLineTests {
    @Test func checkRejectsABadFileNamingFileLineAndKey() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).yaml")
        try Data("kafka:\n  brokers: embedded\nlistener:\n  publishTimeout: whenever\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        let result = try await TributaryProcess(["check", "--config", file.path]).finish()
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(file.path):4: listener.publishTimeout:"))
    }

    @Test func checkReportsABrokenTemplateWithItsLine() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("template-\(UUID().uuidString).yaml")
        try Data("templates:\n  on-sync-failed:\n    slack: \"{{#open}} never closed\"\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await TributaryProcess(["check", "--config", file.path]).finish()
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(file.path):3: templates.on-sync-failed.slack:"), "\(result.stderr)")
    }

    @Test func checkWarnsOfAHelmOrPluginProgramThisMachineLacks() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("renderers-\(UUID().uuidString).yaml")
        try Data("""
            helm: { command: /nonexistent/helm }
            plugins: [{ name: cue, generate: { command: [cue-not-installed-here, export] } }, { name: shell, generate: { command: [sh, -c, "cat *.yaml"] } }]
            apps:
              - { name: chart, source: { repoURL: "https://git.example.com/a.git", path: c, helm: {} }, destination: { directory: /tmp/c } }
              - { name: cue, source: { repoURL: "https://git.example.com/a.git", path: q, plugin: { name: cue } }, destination: { directory: /tmp/q } }
              - { name: shell, source: { repoURL: "https://git.example.com/a.git", path: s, plugin: { name: shell } }, destination: { directory: /tmp/s } }

            """.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await TributaryProcess(["check", "--config", file.path]).finish()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("\(file.path):4: apps.chart: helm runs /nonexistent/helm, which is not there here"), "\(result.stderr)")
        #expect(result.stderr.contains("apps.cue: plugin cue runs cue-not-installed-here, which is not on PATH here"))
        #expect(!result.stderr.contains("apps.shell"))
    }

    @Test func consumingCommandsRefuseToStartWithoutAConfiguration() async throws {
        for command in ["worker", "notify", "plan"] {
            let result = try await TributaryProcess([command, "--brokers", "127.0.0.1:1"]).finish()
            #expect(result.status != 0, "\(command)")
            #expect(result.stderr.contains("needs --config FILE"), "\(command): \(result.stderr)")
        }
    }

    @Test func aPartitionerOverrideIsRefusedNamingFileLineAndKey() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("partitioner-\(UUID().uuidString).yaml")
        try Data("kafka:\n  properties:\n    partitioner: consistent_random\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await TributaryProcess(["check", "--config", file.path]).finish()
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(file.path):3: kafka.properties.partitioner:"), "\(result.stderr)")
    }

    @Test func checkAcceptsTheExampleConfiguration() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let result = try await TributaryProcess(["check", "--config", root.appendingPathComponent("config/example.yaml").path]).finish()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("OK"))
    }

    @Test(.timeLimit(.minutes(1)))
    func processesAllocateWithJemalloc() async throws {
        let bootstrapFile = FileManager.default.temporaryDirectory.appendingPathComponent("bootstrap-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: bootstrapFile) }
        let broker = try TributaryProcess(["broker", "--partitions", "1", "--bootstrap-file", bootstrapFile.path, "--log-level", "debug"])
        try await waitUntil("the broker to write its bootstrap file") { FileManager.default.fileExists(atPath: bootstrapFile.path) }
        broker.signal(SIGTERM)
        let result = try await broker.finish()
        #expect(result.stderr.contains("allocator=jemalloc "), "\(result.stderr.prefix(2000))")
    }

    @Test(.timeLimit(.minutes(2)))
    func brokerProcessServesProducersAndConsumersInOtherProcesses() async throws {
        let bootstrapFile = FileManager.default.temporaryDirectory.appendingPathComponent("bootstrap-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: bootstrapFile) }
        let broker = try TributaryProcess(["broker", "--partitions", "3", "--bootstrap-file", bootstrapFile.path, "--log-level", "warning"])

        var bootstrap = ""
        try await waitUntil("the broker to write its bootstrap file") {
            bootstrap = (try? String(contentsOf: bootstrapFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            return !bootstrap.isEmpty
        }
        #expect(bootstrap.hasPrefix("127.0.0.1:"))

        // This test process produces; a `tributary tail` process consumes.
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: KafkaConfiguration(bootstrapServers: bootstrap)), logger: .init(label: "test"))
        var partitions = Set<Int32>()
        for index in 0..<3 {
            let event = try CloudEvent(id: "event-\(index)", source: "/test", type: "dev.tributary.test", subject: "s", payload: ["index": index])
            let report = try await producer.deliver(event.kafkaMessage(topic: "tributary.changes", key: "key-\(index)"))
            partitions.insert(report.partition.rawValue)
        }
        #expect(partitions.isSubset(of: [0, 1, 2]))
        await producer.shutdown()

        let tail = try await TributaryProcess(["tail", "changes", "--brokers", bootstrap, "--max", "3", "--seconds", "60", "--log-level", "warning"]).finish()
        #expect(tail.status == 0, "\(tail.stderr)")
        let lines = tail.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        let ids = try Set(lines.map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["type"] as? String == "dev.tributary.test")
            return try #require(object["id"] as? String)
        })
        #expect(ids == ["event-0", "event-1", "event-2"])

        broker.signal(SIGTERM)
        let stopped = try await broker.finish(timeout: .seconds(15))
        #expect(stopped.status == 0)
        #expect(stopped.stdout.contains("BOOTSTRAP=\(bootstrap)"))
    }
}
