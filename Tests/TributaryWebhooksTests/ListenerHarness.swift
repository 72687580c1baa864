import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TributaryCore
import TributaryKafka
import TributaryTestSupport
import TributaryWebhooks

/// Secrets the test listener is configured with. "previous" ones are rotated out.
enum TestSecrets {
    static let hmac = "current-hmac-secret"
    static let previousHMAC = "previous-hmac-secret"
    static let gitlabToken = "current-gitlab-token"
    static let payments = "payments-only-secret"
    /// `whsec_` + base64("standard-webhooks-key-0123456789")
    static let standard = "whsec_" + Data("standard-webhooks-key-0123456789".utf8).base64EncodedString()
    static let previousStandard = "whsec_" + Data("retired-standard-webhooks-key-00".utf8).base64EncodedString()
}

/// A listener on an ephemeral port publishing to its own topics on the test cluster.
struct ListenerHarness {
    let cluster: TestCluster
    let configuration: TributaryConfiguration
    let producer: KafkaProducer
    let listener: WebhookListener

    var topics: TributaryTopics { self.configuration.kafka.topics }

    /// - Parameters:
    ///   - listenerYAML: extra keys for the `listener` section.
    ///   - createTopics: false leaves the cluster without the listener's topics (for readiness tests).
    static func make(listenerYAML: String = "", publishTimeout: String = "10s", createTopics: Bool = true) async throws -> ListenerHarness {
        let cluster = try TestCluster()
        let prefix = "t\(UUID().uuidString.prefix(8).lowercased())"
        let yaml = """
            kafka:
              brokers: "\(cluster.bootstrapServers)"
              topicPrefix: \(prefix)
            listener:
              address: "127.0.0.1:0"
              publishTimeout: \(publishTimeout)
            \(listenerYAML)
            webhooks:
              github: { secrets: [ { value: "\(TestSecrets.hmac)" } ] }
              gitea: { secrets: [ { value: "\(TestSecrets.hmac)" } ] }
              forgejo: { secrets: [ { value: "\(TestSecrets.hmac)" } ] }
              bitbucket: { secrets: [ { value: "\(TestSecrets.hmac)" } ] }
              bitbucket-server: { secrets: [ { value: "\(TestSecrets.hmac)" } ] }
              gitlab: { tokens: [ { value: "\(TestSecrets.gitlabToken)" } ], signingSecrets: [ { value: "\(TestSecrets.standard)" } ] }
              standard: { secrets: [ { value: "\(TestSecrets.standard)" } ] }
              repositories:
                github.com/acme/payments: { secrets: [ { value: "\(TestSecrets.payments)" } ] }
            """
        let configuration = try TributaryConfiguration.parse(yaml: yaml, file: "test.yaml")
        // One partition for changes: records read back in publication order prove what was (not) published.
        for topic in configuration.kafka.topics.all where createTopics {
            if let embedded = cluster.embedded {
                try embedded.createTopic(topic, partitions: topic == configuration.kafka.topics.changes ? 1 : 3)
            } else {
                try await KafkaAdministrator(configuration: cluster.kafkaConfiguration, logger: cluster.logger)
                    .createTopics([topic], partitions: topic == configuration.kafka.topics.changes ? 1 : 3)
            }
        }
        let producer = try KafkaProducer(
            configuration: WebhookListener.producerConfiguration(configuration, kafka: cluster.kafkaConfiguration),
            logger: cluster.logger
        )
        let listener = try WebhookListener(configuration: configuration, producer: producer, logger: cluster.logger)
        return ListenerHarness(cluster: cluster, configuration: configuration, producer: producer, listener: listener)
    }

    /// Runs `body` against the live server, then shuts the producer down.
    func run(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        do {
            try await self.listener.makeApplication().test(.live, body)
        } catch {
            await self.producer.shutdown()
            throw error
        }
        await self.producer.shutdown()
    }

    /// Reads change records from the start until one carries `ce_id` ending in `untilDelivery`.
    func changes(until deliveryID: String) async throws -> [KafkaConsumerMessage] {
        let consumer = try self.cluster.makeConsumer(group: TestCluster.uniqueGroup("listener"), topics: [self.topics.changes])
        var messages: [KafkaConsumerMessage] = []
        for try await message in consumer.messages {
            messages.append(message)
            if message.headers.first(named: "ce_id")?.contains(":\(deliveryID):") == true { break }
        }
        await consumer.close()
        return messages
    }
}

/// A signed request as a given Git host would send it.
struct SignedDelivery {
    var provider: WebhookProvider
    var body: [UInt8]
    var headers: HTTPFields
    var deliveryID: String

    /// Signs `body` the way `provider` does, with `secret` (a token for GitLab unless `gitlabSigning`).
    init(
        _ provider: WebhookProvider,
        body: [UInt8],
        secret: String? = nil,
        event: String? = nil,
        deliveryID: String = UUID().uuidString.lowercased(),
        gitlabSigning: Bool = false,
        timestamp: Date = Date(),
        contentType: String = "application/json"
    ) {
        self.provider = provider
        self.body = body
        self.deliveryID = deliveryID
        var headers = HTTPFields()
        headers[.contentType] = contentType
        func set(_ name: String, _ value: String) { headers[HTTPField.Name(name)!] = value }
        let hmacSecret = secret ?? TestSecrets.hmac
        let hex = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(hmacSecret.utf8))).map { String(format: "%02x", $0) }.joined()
        func standardSign(_ whsec: String) {
            let key = SymmetricKey(data: Data(base64Encoded: String(whsec.dropFirst(6)))!)
            let seconds = String(Int(timestamp.timeIntervalSince1970))
            let mac = HMAC<SHA256>.authenticationCode(for: Array("\(deliveryID).\(seconds).".utf8) + body, using: key)
            set("webhook-id", deliveryID)
            set("webhook-timestamp", seconds)
            set("webhook-signature", "v1,\(Data(mac).base64EncodedString())")
        }
        switch provider {
        case .github:
            set("X-GitHub-Event", event ?? "push")
            set("X-GitHub-Delivery", deliveryID)
            set("X-GitHub-Hook-ID", "101")
            set("X-Hub-Signature-256", "sha256=\(hex)")
        case .gitea:
            set("X-Gitea-Event", event ?? "push")
            set("X-Gitea-Delivery", deliveryID)
            set("X-GitHub-Event", event ?? "push")
            set("X-Gitea-Signature", hex)
        case .forgejo:
            set("X-Forgejo-Event", event ?? "push")
            set("X-Forgejo-Delivery", deliveryID)
            set("X-Gitea-Event", event ?? "push")
            set("X-GitHub-Event", event ?? "push")
            set("X-Forgejo-Signature", hex)
        case .gitlab:
            set("X-Gitlab-Event", event ?? "Push Hook")
            set("Idempotency-Key", deliveryID)
            set("X-Gitlab-Webhook-UUID", "hook-7")
            if gitlabSigning {
                standardSign(secret ?? TestSecrets.standard)
            } else {
                set("X-Gitlab-Token", secret ?? TestSecrets.gitlabToken)
            }
        case .bitbucket:
            set("X-Event-Key", event ?? "repo:push")
            set("X-Request-UUID", deliveryID)
            set("X-Hook-UUID", "hook-uuid")
            set("X-Hub-Signature", "sha256=\(hex)")
        case .bitbucketServer:
            set("X-Event-Key", event ?? "repo:refs_changed")
            set("X-Request-Id", deliveryID)
            set("X-Hub-Signature", "sha256=\(hex)")
        case .standard:
            standardSign(secret ?? TestSecrets.standard)
        }
        self.headers = headers
    }

    func removing(_ names: String...) -> SignedDelivery {
        var copy = self
        for name in names { copy.headers[HTTPField.Name(name)!] = nil }
        return copy
    }

    func send(_ client: any TestClientProtocol, path: String? = nil) async throws -> TestResponse {
        try await client.execute(uri: path ?? "/hooks/\(self.provider.rawValue)", method: .post, headers: self.headers, body: ByteBuffer(bytes: self.body))
    }
}

extension TestResponse {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: self.body))) as? [String: Any] ?? [:]
    }
}
