import Crypto
import Foundation
import Logging
import ServiceLifecycle
import Testing
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding
import TributaryTestSupport
@testable import TributaryNotify

@Suite("Notifier over Kafka with real receivers", .serialized, .timeLimit(.minutes(3)))
struct NotifierTests {
    let cluster: TestCluster
    let topics: TributaryTopics
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-notify-\(UUID().uuidString.prefix(8))")

    init() async throws {
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        self.cluster = try TestCluster()
        self.topics = TributaryTopics(prefix: "test-\(UUID().uuidString.prefix(8).lowercased())")
        for topic in self.topics.all {
            if let embedded = self.cluster.embedded {
                try embedded.createTopic(topic, partitions: 3)
            } else {
                try await KafkaAdministrator(configuration: self.cluster.kafkaConfiguration, logger: self.cluster.logger).createTopics([topic], partitions: 3, replicationFactor: -1)
            }
        }
    }

    func configuration(slack: HTTPReceiver, hook: HTTPReceiver, smtp: SMTPServer, rejecting: HTTPReceiver? = nil) throws -> TributaryConfiguration {
        var yaml = """
            kafka: { topicPrefix: \(self.topics.prefix) }
            sinks:
              - name: team-slack
                slack: { url: { value: "\(slack.url)" } }
                retry: { limit: 3, backoff: { duration: 100ms } }
              - name: audit-hook
                webhook: { url: { value: "\(hook.url)" }, signingSecret: { value: "whsec_ZGV2LXdlYmhvb2stc2VjcmV0" } }
              - name: oncall-mail
                email: { host: 127.0.0.1, port: \(smtp.port), tls: none, from: "tributary@example.com", to: ["oncall@example.com", "lead@example.com"] }

            """
        if let rejecting { yaml += "  - name: broken\n    slack: { url: { value: \"\(rejecting.url)\" } }\n" }
        yaml += """
            triggers:
              - name: on-sync-failed
                when: "attempt >= 2"
            subscriptions:
              - apps: ["shop"]
                triggers: [on-sync-failed, on-sync-succeeded]
                sinks: [team-slack, audit-hook, oncall-mail\(rejecting == nil ? "" : ", broken")]

            """
        return try TributaryConfiguration.parse(yaml: yaml, file: "notify.yaml")
    }

    /// Runs the router (in `routerGroup`; by default a new group, which reads the sync topic from the
    /// start) and a delivery member until `body` returns.
    func withNotifier(
        _ configuration: TributaryConfiguration, routerGroup: String = TestCluster.uniqueGroup("notifier"), _ body: (NotificationDelivery) async throws -> Void
    ) async throws {
        let producer = try self.cluster.makeProducer()
        let router = NotificationRouter(
            settings: configuration.notifications, topics: self.topics, producer: producer,
            groupID: routerGroup, sessionTimeout: .seconds(3), logger: self.cluster.logger
        ).makeStage(kafka: self.cluster.kafkaConfiguration)
        let delivery = try NotificationDelivery(
            configuration: configuration, kafka: self.cluster.kafkaConfiguration, producer: producer,
            groupID: "delivery-\(self.topics.prefix)", sessionTimeout: .seconds(3), logger: self.cluster.logger
        )
        let services = ServiceGroup(configuration: .init(services: [.init(service: producer), .init(service: router), .init(service: delivery.makeStage())], logger: self.cluster.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await services.run() }
            do {
                try await body(delivery)
            } catch {
                await services.triggerGracefulShutdown()
                throw error
            }
            await services.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    func publish(_ sync: SyncEvent, id: String = UUID().uuidString) async throws {
        let producer = try self.cluster.makeProducer()
        let event = try CloudEvent(id: id, source: "test", type: SyncEvent.eventType(for: sync.phase), subject: sync.app, payload: sync)
        _ = try await producer.deliver(event.kafkaMessage(topic: self.topics.sync, key: sync.app))
        await producer.shutdown()
    }

    static func sync(_ phase: SyncEvent.Phase, attempt: Int, revision: String) -> SyncEvent {
        let now = Date()
        return SyncEvent(
            app: "shop", project: "default", repository: "github.com/acme/infra", ref: "main", revision: revision, phase: phase, attempt: attempt,
            destination: "directory:/srv/rendered/shop", message: phase == .failed ? "apps/shop/bad.yaml:6: invalid YAML" : nil,
            deliveryID: "delivery-\(revision.prefix(4))", startedAt: now, finishedAt: now
        )
    }

    @Test func eachSinkGetsOneNotificationPerAppTriggerAndRevisionDespiteRetriesRedeliveryAndRestarts() async throws {
        let slack = try HTTPReceiver(directory: self.directory, statuses: [429])  // the first answer asks to come back in 1 s
        let hook = try HTTPReceiver(directory: self.directory)
        let smtp = try SMTPServer(directory: self.directory)
        let configuration = try self.configuration(slack: slack, hook: hook, smtp: smtp)
        let revision = "9f1c2e3d4b5a69788796a5b4c3d2e1f0a9b8c7d6"

        try await self.withNotifier(configuration, routerGroup: "router-\(self.topics.prefix)") { delivery in
            try await self.publish(Self.sync(.failed, attempt: 1, revision: revision))  // below the trigger's `when`
            try await self.publish(Self.sync(.failed, attempt: 2, revision: revision), id: "sync-2")
            try await self.publish(Self.sync(.failed, attempt: 2, revision: revision), id: "sync-2")  // redelivered
            try await self.publish(Self.sync(.failed, attempt: 3, revision: revision))  // same revision, later attempt
            try await waitUntil("three deliveries", timeout: .seconds(60)) {
                slack.requests.filter { $0.status == 200 }.count == 1 && hook.requests.count == 1 && smtp.messages.count == 1
            }
            // Once the router and delivery have committed everything, no further attempt can come.
            try await waitUntil("the notifier to commit every record", timeout: .seconds(30)) {
                let routed = try await hasCommittedAll(self.cluster.kafkaConfiguration, group: "router-\(self.topics.prefix)", topic: self.topics.sync)
                let delivered = try await hasCommittedAll(self.cluster.kafkaConfiguration, group: "delivery-\(self.topics.prefix)", topic: self.topics.notifications)
                return routed && delivered
            }
            #expect(delivery.metrics.count("delivered") == 3)
            #expect(delivery.metrics.count("retried") == 1)
        }
        // Slack: 429 honoured, then one delivery, whose text names app, revision link and push delivery.
        #expect(slack.requests.map(\.status) == [429, 200])
        let text = try #require(try JSONSerialization.jsonObject(with: Data(slack.requests[1].body.utf8)) as? [String: String])["text"]
        #expect(text?.contains("*shop* failed to sync") == true)
        #expect(text?.contains("https://github.com/acme/infra/commit/\(revision)") == true)
        #expect(text?.contains("delivery-9f1c") == true)

        // Webhook: a structured CloudEvent, signed the Standard Webhooks way.
        let request = hook.requests[0]
        #expect(request.headers["content-type"] == "application/cloudevents+json")
        let id = try #require(request.headers["webhook-id"])
        let timestamp = try #require(request.headers["webhook-timestamp"])
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(id).\(timestamp).\(request.body)".utf8), using: SymmetricKey(data: Data(base64Encoded: "ZGV2LXdlYmhvb2stc2VjcmV0")!))
        #expect(request.headers["webhook-signature"] == "v1,\(Data(mac).base64EncodedString())")
        let cloudEvent = try #require(try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any])
        #expect(cloudEvent["type"] as? String == "dev.tributary.notification")
        #expect((cloudEvent["data"] as? [String: Any])?["trigger"] as? String == "on-sync-failed")

        // Email through a real SMTP server, to both recipients.
        let mail = try #require(smtp.messages.first)
        #expect(mail.contains("Subject: [tributary] shop failed to sync at 9f1c2e3d4b5a"))
        #expect(mail.contains("To: oncall@example.com, lead@example.com"))
        #expect(mail.contains("apps/shop/bad.yaml:6: invalid YAML"))

        // A new notifier (a restart, or another replica) given the same notification again sends nothing:
        // the delivery ledger on Kafka remembers it.
        try await self.withNotifier(configuration) { delivery in
            try await self.publish(Self.sync(.failed, attempt: 4, revision: revision))
            try await waitUntil("the duplicates to be recognised", timeout: .seconds(60)) { delivery.metrics.count("duplicate") >= 3 }
        }
        #expect(slack.requests.count == 2)
        #expect(hook.requests.count == 1)
        #expect(smtp.messages.count == 1)
    }

    @Test func aRejectedNotificationIsNotRetriedAndGoesToTheDeadLetterTopic() async throws {
        let slack = try HTTPReceiver(directory: self.directory)
        let hook = try HTTPReceiver(directory: self.directory)
        let smtp = try SMTPServer(directory: self.directory)
        let rejecting = try HTTPReceiver(directory: self.directory, statuses: [400, 400, 400])
        let configuration = try self.configuration(slack: slack, hook: hook, smtp: smtp, rejecting: rejecting)
        let dlq = try self.cluster.makeConsumer(group: TestCluster.uniqueGroup("dlq"), topics: [self.topics.deadLetters])

        try await self.withNotifier(configuration) { delivery in
            try await self.publish(Self.sync(.succeeded, attempt: 1, revision: "1111111111111111111111111111111111111111"))
            try await waitUntil("the dead letter", timeout: .seconds(60)) { delivery.metrics.count("dead-lettered") == 1 }
        }
        #expect(rejecting.requests.count == 1)
        var iterator = dlq.messages.makeAsyncIterator()
        let letter = try #require(try await iterator.next())
        let reason = letter.headers.first { $0.key == "tributary_dlq_reason" }?.stringValue
        #expect(reason == "sink broken answered HTTP 400 after 1 attempt")
        #expect(reason?.contains(rejecting.url) == false)
        #expect(try CloudEvent(kafkaMessage: letter).decodePayload(as: NotificationEvent.self).sink == "broken")
        await dlq.close()
    }

    @Test func failuresAreRetriedToTheLimitThenDeadLetteredAndEmailUsesSTARTTLSWithAUTH() async throws {
        let flaky = try HTTPReceiver(directory: self.directory, statuses: [500])
        let down = try HTTPReceiver(directory: self.directory, statuses: [500, 500, 500, 500, 500])
        let smtp = try SMTPServer(directory: self.directory, username: "bot", password: "right-password")
        let certificate = try #require(smtp.certificate)
        func mail(_ name: String, password: String) -> String {
            """
              - name: \(name)
                email: { host: localhost, port: \(smtp.port), tls: starttls, caFile: "\(certificate)", username: { value: bot },
                         password: { value: \(password) }, from: "tributary@example.com", to: ["oncall@example.com"] }
                retry: { limit: 2, backoff: { duration: 100ms } }

            """
        }
        let yaml = """
            kafka: { topicPrefix: \(self.topics.prefix) }
            sinks:
              - name: flaky
                slack: { url: { value: "\(flaky.url)" } }
                retry: { limit: 2, backoff: { duration: 100ms } }
              - name: down
                slack: { url: { value: "\(down.url)" } }
                retry: { limit: 2, backoff: { duration: 100ms } }

            """ + mail("mail-ok", password: "right-password") + mail("mail-bad", password: "wrong-password") + """
            subscriptions:
              - triggers: [on-sync-failed]
                sinks: [flaky, down, mail-ok, mail-bad]

            """
        let configuration = try TributaryConfiguration.parse(yaml: yaml, file: "notify.yaml")
        let dlq = try self.cluster.makeConsumer(group: TestCluster.uniqueGroup("dlq"), topics: [self.topics.deadLetters])
        try await self.withNotifier(configuration) { delivery in
            try await self.publish(Self.sync(.failed, attempt: 1, revision: "2222222222222222222222222222222222222222"))
            try await waitUntil("two deliveries and two dead letters", timeout: .seconds(60)) {
                delivery.metrics.count("delivered") == 2 && delivery.metrics.count("dead-lettered") == 2
            }
        }
        #expect(flaky.requests.map(\.status) == [500, 200])
        #expect(down.requests.map(\.status) == [500, 500, 500])

        // The message went through STARTTLS and AUTH, as text and HTML alternatives.
        let message = try #require(smtp.messages.first)
        #expect(smtp.messages.count == 1)
        #expect(message.contains("Content-Type: multipart/alternative"))
        #expect(message.contains("Content-Type: text/plain; charset=utf-8"))
        #expect(message.contains("Content-Type: text/html; charset=utf-8"))
        #expect(message.contains("<pre style="))

        var reasons: [String: String] = [:]
        var iterator = dlq.messages.makeAsyncIterator()
        for _ in 0..<2 {
            let letter = try #require(try await iterator.next())
            let sink = try CloudEvent(kafkaMessage: letter).decodePayload(as: NotificationEvent.self).sink
            reasons[sink] = letter.headers.first { $0.key == "tributary_dlq_reason" }?.stringValue
        }
        await dlq.close()
        #expect(reasons["down"] == "sink down answered HTTP 500 after 3 attempts")
        let authFailure = try #require(reasons["mail-bad"])
        #expect(authFailure.contains("AUTH PLAIN answered 535"), "\(authFailure)")
        #expect(authFailure.hasSuffix("after 3 attempts"))
        #expect(!authFailure.contains("wrong-password"))
    }
}
