import Foundation
import Synchronization
import Testing
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding
import TributaryTestSupport

/// `tributary dev` end to end: a commit pushed to a served repository and a signed webhook end in
/// the directory targets of three apps, `succeeded` sync events and delivered Slack-style
/// notifications — and the status server shows the push with all of it.
@Suite("Dev mode end to end", .timeLimit(.minutes(3)))
struct DevModeTests {
    @Test func pushAndSignedWebhookReachTheTargetTheSyncTopicAndSlack() async throws {
        let git = try GitFixture()
        let apps = ["cart", "shop", "web"]
        let initial = try git.commit(Dictionary(uniqueKeysWithValues: apps.map { ("apps/\($0)/config.yaml", Self.configMap($0, version: 1)) }))
        let daemon = try GitDaemon(serving: git.served)
        let slack = try HTTPReceiver(directory: git.root)
        func target(_ app: String) -> String { git.root.appendingPathComponent("rendered/\(app)").path }
        let config = git.root.appendingPathComponent("dev.yaml")
        try Data("""
            kafka: { brokers: embedded, partitions: 3 }
            listener: { address: "127.0.0.1:0" }
            server: { address: "127.0.0.1:0", tokens: [{ token: { value: "e2e-token" }, role: viewer }] }
            webhooks:
              github: { secrets: [ { value: "e2e-secret" } ] }
            apps:
            \(apps.map { """
              - name: \($0)
                source: { repoURL: "\(daemon.url("infra.git"))", targetRevision: main, path: apps/\($0) }
                destination: { directory: "\(target($0))" }
                syncPolicy: { automated: { prune: true }, interval: 1h }
            """ }.joined(separator: "\n"))
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
        var server = ""
        try await waitUntil("LISTENING, BOOTSTRAP and SERVER", timeout: .seconds(30)) {
            let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
            listening = lines.first { $0.hasPrefix("LISTENING=") }.map { String($0.dropFirst(10)) } ?? ""
            bootstrap = lines.first { $0.hasPrefix("BOOTSTRAP=") }.map { String($0.dropFirst(10)) } ?? ""
            server = lines.first { $0.hasPrefix("SERVER=") }.map { String($0.dropFirst(7)) } ?? ""
            return !listening.isEmpty && !bootstrap.isEmpty && !server.isEmpty
        }
        // The worker syncs the apps once on joining; wait for that so the push below is a change.
        try await waitUntil("the first syncs", timeout: .seconds(60)) { apps.allSatisfy { Self.revision(in: target($0)) == initial } }

        let second = try git.commit(Dictionary(uniqueKeysWithValues: apps.map { ("apps/\($0)/config.yaml", Self.configMap($0, version: 2)) }))
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let response = try run([
            root.appendingPathComponent("scripts/send-webhook").path, "--url", "\(listening)/hooks/github", "--secret", "e2e-secret",
            "--repo", daemon.url("infra.git"), "--before", initial, "--after", second,
        ])
        #expect(response.contains("HTTP 202"), "\(response)")

        try await waitUntil("the new revision in the targets", timeout: .seconds(30)) { apps.allSatisfy { Self.revision(in: target($0)) == second } }
        #expect(try String(contentsOfFile: "\(target("shop"))/configmap_shop_shop.yaml", encoding: .utf8).contains("version: \"2\""))

        // The sync event, read from the embedded broker like any subscriber would.
        var configuration = KafkaConsumerConfiguration(kafka: KafkaConfiguration(bootstrapServers: bootstrap), groupID: "e2e-\(UUID().uuidString.prefix(6))")
        configuration.sessionTimeout = .seconds(3)
        configuration.heartbeatInterval = .milliseconds(200)
        let consumer = try KafkaConsumer(configuration: configuration, logger: .init(label: "test"))
        try consumer.subscribe(topics: ["tributary.sync"])
        var event: SyncEvent?
        for try await message in consumer.messages {
            let sync = try CloudEvent(kafkaMessage: message).decodePayload(as: SyncEvent.self)
            if sync.app == "shop" && sync.revision == second && sync.trigger == "change" {
                event = sync
                break
            }
        }
        await consumer.close()
        #expect(event?.phase == .succeeded)
        #expect(event?.deliveryID?.isEmpty == false)
        #expect(event?.resources?.updated == 1)

        try await waitUntil("the Slack notifications for the push", timeout: .seconds(30)) {
            slack.requests.filter { $0.body.contains(String(second.prefix(12))) }.count == 3
        }

        // The status server shows the push: its three syncs, with their push-to-applied times, and
        // the notifications it caused, delivered.
        let delivery = try #require(event?.deliveryID)
        var push: [String: Any] = [:]
        try await waitUntil("the push with its syncs and delivered notifications on the status server", timeout: .seconds(30)) {
            let text = (try? run(["curl", "-sf", "-H", "Authorization: Bearer e2e-token", "\(server)/api/v1/pushes/\(delivery)"])) ?? ""
            push = (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
            let notifications = push["notifications"] as? [[String: Any]] ?? []
            return (push["syncs"] as? [[String: Any]])?.count == 3 && notifications.count == 3 && notifications.allSatisfy { $0["outcome"] as? String == "delivered" }
        }
        let syncs = try #require(push["syncs"] as? [[String: Any]])
        #expect(Set(syncs.compactMap { $0["app"] as? String }) == Set(apps))
        #expect(syncs.allSatisfy { $0["phase"] as? String == "succeeded" && ($0["pushToAppliedMilliseconds"] as? Double ?? 0) > 0 })
        #expect(push["after"] as? String == second)
        #expect(try run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "\(server)/api/v1/apps"]) == "401")

        // SIGINT stops everything cleanly within a few seconds.
        #expect(dev.signal(SIGINT, waitingUpTo: .seconds(15)) == 0)
    }

    static func configMap(_ name: String, version: Int) -> String {
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \(name)\n  namespace: shop\ndata:\n  version: \"\(version)\"\n"
    }

    static func revision(in target: String) -> String? {
        guard let data = FileManager.default.contents(atPath: "\(target)/.tributary-inventory"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return object["revision"] as? String
    }
}
