import Foundation
import Synchronization
import Testing
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding
import TributaryTestSupport

/// `tributary dev` end to end: a commit pushed to a served repository and a signed webhook end in
/// the directory target, a `succeeded` sync event and a delivered Slack-style notification.
@Suite("Dev mode end to end", .timeLimit(.minutes(3)))
struct DevModeTests {
    @Test func pushAndSignedWebhookReachTheTargetTheSyncTopicAndSlack() async throws {
        let git = try GitFixture()
        let initial = try git.commit(["apps/shop/config.yaml": Self.configMap(version: 1)])
        let daemon = try GitDaemon(serving: git.served)
        let slack = try HTTPReceiver(directory: git.root)
        let target = git.root.appendingPathComponent("rendered/shop").path
        let config = git.root.appendingPathComponent("dev.yaml")
        try Data("""
            kafka: { brokers: embedded, partitions: 3 }
            listener: { address: "127.0.0.1:0" }
            webhooks:
              github: { secrets: [ { value: "e2e-secret" } ] }
            apps:
              - name: shop
                source: { repoURL: "\(daemon.url("infra.git"))", targetRevision: main, path: apps/shop }
                destination: { directory: "\(target)" }
                syncPolicy: { automated: { prune: true }, interval: 1h }
            sinks:
              - name: slack
                slack: { url: { value: "\(slack.url)" } }
            subscriptions:
              - triggers: [on-sync-succeeded]
                sinks: [slack]

            """.utf8).write(to: config)

        let log = git.root.appendingPathComponent("dev.log").path
        let dev = try ChildProcess(
            [TributaryProcess.executable.path, "dev", "--config", config.path, "--data-dir", git.root.appendingPathComponent("data").path, "--session-timeout", "3"],
            outputPath: log
        )
        defer { dev.stop() }
        var listening = ""
        var bootstrap = ""
        try await waitUntil("LISTENING and BOOTSTRAP", timeout: .seconds(30)) {
            let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
            listening = lines.first { $0.hasPrefix("LISTENING=") }.map { String($0.dropFirst(10)) } ?? ""
            bootstrap = lines.first { $0.hasPrefix("BOOTSTRAP=") }.map { String($0.dropFirst(10)) } ?? ""
            return !listening.isEmpty && !bootstrap.isEmpty
        }
        // The worker syncs the app once on joining; wait for that so the push below is a change.
        try await waitUntil("the first sync", timeout: .seconds(60)) { Self.revision(in: target) == initial }

        let second = try git.commit(["apps/shop/config.yaml": Self.configMap(version: 2)])
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let response = try run([
            root.appendingPathComponent("scripts/send-webhook").path, "--url", "\(listening)/hooks/github", "--secret", "e2e-secret",
            "--repo", daemon.url("infra.git"), "--before", initial, "--after", second,
        ])
        #expect(response.contains("HTTP 202"), "\(response)")

        try await waitUntil("the new revision in the target", timeout: .seconds(30)) { Self.revision(in: target) == second }
        #expect(try String(contentsOfFile: "\(target)/configmap_shop_shop.yaml", encoding: .utf8).contains("version: \"2\""))

        // The sync event, read from the embedded broker like any subscriber would.
        var configuration = KafkaConsumerConfiguration(kafka: KafkaConfiguration(bootstrapServers: bootstrap), groupID: "e2e-\(UUID().uuidString.prefix(6))")
        configuration.sessionTimeout = .seconds(3)
        configuration.heartbeatInterval = .milliseconds(200)
        let consumer = try KafkaConsumer(configuration: configuration, logger: .init(label: "test"))
        try consumer.subscribe(topics: ["tributary.sync"])
        var event: SyncEvent?
        for try await message in consumer.messages {
            let sync = try CloudEvent(kafkaMessage: message).decodePayload(as: SyncEvent.self)
            if sync.revision == second && sync.trigger == "change" {
                event = sync
                break
            }
        }
        await consumer.close()
        #expect(event?.phase == .succeeded)
        #expect(event?.deliveryID?.isEmpty == false)
        #expect(event?.resources?.updated == 1)

        try await waitUntil("the Slack notification for the push", timeout: .seconds(30)) {
            slack.requests.contains { $0.body.contains(String(second.prefix(12))) }
        }

        // SIGINT stops everything cleanly within a few seconds.
        #expect(dev.signal(SIGINT, waitingUpTo: .seconds(15)) == 0)
    }

    static func configMap(version: Int) -> String {
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shop\n  namespace: shop\ndata:\n  version: \"\(version)\"\n"
    }

    static func revision(in target: String) -> String? {
        guard let data = FileManager.default.contents(atPath: "\(target)/.tributary-inventory"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return object["revision"] as? String
    }
}
