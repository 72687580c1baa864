import Foundation
import Testing
import TributaryCore
import TributaryKafka
import TributaryTestSupport

/// The whole pipeline in `tributary dev`, configured with distinctive secrets of every kind — a
/// webhook secret, a Git token (and a wrong one), an SMTP password, a cluster token, a status-API
/// token, a notification signing secret — run through successes and failures; then every log
/// line, every record on every topic and every HTTP response is searched for them.
@Suite("Secrets never leak", .timeLimit(.minutes(4)))
struct SecretsTests {
    @Test func noSecretAppearsInLogsEventsErrorsOrResponses() async throws {
        let git = try GitFixture()
        let root = git.root
        let initial = try git.commit(["apps/web/config.yaml": Self.configMap("web", 1), "apps/kube/config.yaml": Self.configMap("kube", 1)])
        let secrets = [
            "webhook": "whk-S3CR3T-7f41c9a0", "git": "gtk-S3CR3T-1e8b55d2", "wrongGit": "gtk-WR0NG-93aa0c71", "smtp": "smtp-S3CR3T-4c0de6b8",
            "server": "srv-S3CR3T-b27e9f13", "wrongServer": "srv-WR0NG-0a5d7c22", "sink": "sink-S3CR3T-68f0ab4e",
        ]
        let http = try GitHTTPServer(serving: git.served, username: "bot", password: secrets["git"]!)
        let cluster = try KubernetesAPIServer(directory: root, rollout: "instant")
        let smtp = try SMTPServer(directory: root, username: "mailer", password: secrets["smtp"]!)
        let receiver = try HTTPReceiver(directory: root)
        // Every secret is read from a file, as in production.
        var files: [String: String] = [:]
        for (name, value) in secrets.merging(["kube": cluster.token]) { $1 } {
            let path = root.appendingPathComponent("secret-\(name)").path
            try value.write(toFile: path, atomically: true, encoding: .utf8)
            files[name] = path
        }
        func target(_ app: String) -> String { root.appendingPathComponent("rendered/\(app)").path }
        let config = root.appendingPathComponent("secrets.yaml")
        try Data("""
            kafka: { brokers: embedded, partitions: 2 }
            listener: { address: "127.0.0.1:0" }
            server: { address: "127.0.0.1:0", tokens: [{ token: { file: "\(files["server"]!)" }, role: operator }] }
            webhooks:
              github: { secrets: [ { file: "\(files["webhook"]!)" } ] }
            repositories:
              - url: "\(http.url("infra.git"))"
                auth: { username: bot, password: { file: "\(files["git"]!)" } }
              - url: "\(http.url("locked.git"))"
                auth: { username: bot, password: { file: "\(files["wrongGit"]!)" } }
            clusters:
              - name: prod
                server: "\(cluster.url)"
                auth: { token: { file: "\(files["kube"]!)" }, caFile: "\(cluster.caFile)" }
            apps:
              - name: web
                source: { repoURL: "\(http.url("infra.git"))", targetRevision: main, path: apps/web }
                destination: { directory: "\(target("web"))" }
                syncPolicy: { automated: { prune: true }, interval: 1h }
              - name: kube
                source: { repoURL: "\(http.url("infra.git"))", targetRevision: main, path: apps/kube }
                destination: { name: prod, namespace: secrets-demo }
                syncPolicy: { automated: { prune: true }, syncOptions: [CreateNamespace=true], interval: 1h }
              - name: locked
                source: { repoURL: "\(http.url("locked.git"))", targetRevision: main, path: app }
                destination: { directory: "\(target("locked"))" }
                syncPolicy: { automated: {}, interval: 1h, retry: { limit: 1 } }
            sinks:
              - name: mail
                email: { host: localhost, port: \(smtp.port), tls: starttls, caFile: "\(smtp.certificate!)", username: { value: mailer },
                         password: { file: "\(files["smtp"]!)" }, from: "tributary@example.com", to: ["oncall@example.com"] }
              - name: hook
                webhook: { url: { value: "\(receiver.url)" }, signingSecret: { file: "\(files["sink"]!)" } }
            subscriptions:
              - triggers: [on-sync-succeeded, on-sync-failed]
                sinks: [mail, hook]

            """.utf8).write(to: config)

        let log = root.appendingPathComponent("dev.log").path
        let dev = try ChildProcess(
            [TributaryProcess.executable.path, "dev", "--config", config.path, "--data-dir", root.appendingPathComponent("data").path, "--session-timeout", "3", "--log-level", "debug"],
            outputPath: log
        )
        defer { dev.stop() }
        func waitWithLog(_ what: String, _ condition: () async throws -> Bool) async throws {
            do {
                try await waitUntil(what, timeout: .seconds(60), condition)
            } catch {
                let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").suffix(40)
                Issue.record("dev.log, last lines:\n\(lines.joined(separator: "\n"))")
                throw error
            }
        }
        var listening = ""
        var bootstrap = ""
        var server = ""
        try await waitWithLog("LISTENING, BOOTSTRAP and SERVER") {
            let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
            listening = lines.first { $0.hasPrefix("LISTENING=") }.map { String($0.dropFirst(10)) } ?? ""
            bootstrap = lines.first { $0.hasPrefix("BOOTSTRAP=") }.map { String($0.dropFirst(10)) } ?? ""
            server = lines.first { $0.hasPrefix("SERVER=") }.map { String($0.dropFirst(7)) } ?? ""
            return !listening.isEmpty && !bootstrap.isEmpty && !server.isEmpty
        }
        try await waitWithLog("the first syncs") {
            DevModeTests.revision(in: target("web")) == initial
                && ((try? cluster.get("configmap", "tributary-inventory-kube", namespace: "tributary-system"))??["data"] as? [String: String])?["revision"] == initial
        }

        var responses: [String] = []
        let second = try git.commit(["apps/web/config.yaml": Self.configMap("web", 2), "apps/kube/config.yaml": Self.configMap("kube", 2)])
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        func sendWebhook(secret: String) throws -> String {
            try run([
                packageRoot.appendingPathComponent("scripts/send-webhook").path, "--url", "\(listening)/hooks/github", "--secret", secret,
                "--repo", http.url("infra.git"), "--before", initial, "--after", second,
            ])
        }
        let refused = try sendWebhook(secret: secrets["wrongServer"]!)
        #expect(refused.contains("HTTP 401"), "\(refused)")
        let accepted = try sendWebhook(secret: secrets["webhook"]!)
        #expect(accepted.contains("HTTP 202"), "\(accepted)")
        responses += [refused, accepted]
        try await waitWithLog("the push applied to both targets") {
            DevModeTests.revision(in: target("web")) == second
                && ((try? cluster.get("configmap", "kube", namespace: "secrets-demo"))??["data"] as? [String: String])?["version"] == "2"
        }
        // Notifications of the successes and of the locked app's failure, by mail and signed webhook.
        try await waitWithLog("mail and webhook notifications, the failure's among them") {
            smtp.messages.contains { $0.contains("locked") } && receiver.requests.contains { $0.body.contains("locked") }
                && receiver.requests.contains { $0.body.contains(String(second.prefix(12))) }
        }

        func get(_ url: String, token: String?) throws -> String {
            try run(["curl", "-s", "-i"] + (token.map { ["-H", "Authorization: Bearer \($0)"] } ?? []) + [url])
        }
        for path in ["/api/v1/apps", "/api/v1/apps/locked", "/api/v1/apps/kube", "/metrics", "/"] {
            responses.append(try get("\(server)\(path)", token: secrets["server"]!))
        }
        responses.append(try get("\(server)/api/v1/apps", token: secrets["wrongServer"]!))
        responses.append(try run(["curl", "-s", "-i", "-X", "POST", "-H", "Authorization: Bearer \(secrets["server"]!)", "\(server)/api/v1/apps/locked/sync"]))
        for path in ["/metrics", "/readyz", "/healthz"] { responses.append(try get("\(listening)\(path)", token: nil)) }
        #expect(responses.contains { $0.contains("\"locked\"") && $0.contains("rejected the configured credentials") }, "the locked app's error is in the API")

        // Every record of every topic: keys, headers and values.
        let records = try await Self.allRecords(bootstrap: bootstrap)
        #expect(records.count > 10)
        #expect(records.contains { $0.contains("locked") && $0.contains("failed") }, "the failed sync event is there")
        #expect(dev.signal(SIGINT, waitingUpTo: .seconds(15)) == 0)
        let logText = try String(contentsOfFile: log, encoding: .utf8)
        #expect(logText.contains("rejected the configured credentials"), "the Git failure is logged")
        let deliveredBodies = receiver.requests.map { $0.body } + smtp.messages

        var needles = Array(secrets.values) + [cluster.token]
        for (user, password) in [("bot", secrets["git"]!), ("bot", secrets["wrongGit"]!), ("mailer", secrets["smtp"]!)] {
            needles.append(Data("\(user):\(password)".utf8).base64EncodedString())  // HTTP basic
            needles.append(Data("\u{0}\(user)\u{0}\(password)".utf8).base64EncodedString())  // SMTP AUTH PLAIN
            needles.append(Data(password.utf8).base64EncodedString())  // SMTP AUTH LOGIN
        }
        let haystacks: [(String, String)] = [("log", logText)] + records.map { ("record", $0) } + responses.map { ("response", $0) } + deliveredBodies.map { ("notification", $0) }
        for needle in needles {
            for (kind, text) in haystacks where text.contains(needle) {
                Issue.record("a secret appears in a \(kind): …\(Self.around(needle, in: text))…")
            }
        }
    }

    static func configMap(_ name: String, _ version: Int) -> String {
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \(name)\n  namespace: secrets-demo\ndata:\n  version: \"\(version)\"\n"
    }

    static func around(_ needle: String, in text: String) -> String {
        guard let range = text.range(of: needle) else { return "" }
        let start = text.index(range.lowerBound, offsetBy: -60, limitedBy: text.startIndex) ?? text.startIndex
        return String(text[start..<range.lowerBound]) + "<SECRET>"
    }

    /// Every record on every topic of the broker, each as one text (key, headers, value).
    static func allRecords(bootstrap: String) async throws -> [String] {
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: KafkaConfiguration(bootstrapServers: bootstrap), groupID: "secrets-\(UUID().uuidString.prefix(6))"),
            logger: .init(label: "test")
        )
        var records: [String] = []
        for (topic, count) in try await consumer.partitionCounts(timeout: .seconds(10)).sorted(by: { $0.key < $1.key }) where !topic.hasPrefix("__") {
            for index in 0..<count {
                let partition = KafkaPartition(index)
                let (low, high) = try await consumer.watermarks(topic: topic, partition: partition)
                guard high.rawValue > low.rawValue else { continue }
                try consumer.assign([KafkaTopicPartition(topic: topic, partition: partition, offset: .beginning)])
                for try await message in consumer.messages {
                    // Records read ahead for the previous assignment may still arrive: skip them.
                    guard message.topic == topic, message.partition == partition else { continue }
                    let headers = message.headers.map { "\($0.key)=\(String(decoding: $0.value ?? [], as: UTF8.self))" }.joined(separator: " ")
                    records.append("\(topic) \(message.keyString ?? "") \(headers) \(String(decoding: message.value ?? [], as: UTF8.self))")
                    if message.offset.rawValue >= high.rawValue - 1 { break }
                }
            }
        }
        await consumer.close()
        return records
    }
}
