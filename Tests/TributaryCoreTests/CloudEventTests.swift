import Foundation
import Testing
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding
import TributaryTestSupport

@Suite("CloudEvents binary mode")
struct CloudEventTests {
    static let change = ChangeEvent(
        provider: "github",
        deliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        hookID: "42",
        repository: .init(key: "github.com/acme/infra", cloneURLs: ["https://github.com/acme/infra.git", "git@github.com:acme/infra.git"]),
        ref: "refs/heads/main",
        before: String(repeating: "a", count: 40),
        after: String(repeating: "b", count: 40),
        forced: true,
        pusher: "octocat",
        changedPathHints: .init(added: ["apps/shop/new.yaml"], modified: ["apps/shop/deploy.yaml"], removed: [], complete: true),
        receivedAt: Date(timeIntervalSince1970: 1_764_000_000.25)
    )

    @Test func kafkaMessageCarriesAttributesAsHeadersAndDataAsValue() throws {
        let event = try CloudEvent(
            id: "evt-1",
            source: "/tributary/listener",
            type: ChangeEvent.eventType,
            time: Date(timeIntervalSince1970: 1_764_000_000.5),
            subject: "github.com/acme/infra",
            payload: Self.change
        )
        let message = event.kafkaMessage(topic: TributaryTopics().changes, key: "github.com/acme/infra")
        #expect(message.topic == "tributary.changes")
        #expect(message.key == Array("github.com/acme/infra".utf8))
        #expect(message.headers.first(named: "ce_specversion") == "1.0")
        #expect(message.headers.first(named: "ce_id") == "evt-1")
        #expect(message.headers.first(named: "ce_source") == "/tributary/listener")
        #expect(message.headers.first(named: "ce_type") == "dev.tributary.git.push")
        #expect(message.headers.first(named: "ce_time") == "2025-11-24T16:00:00.500Z")
        #expect(message.headers.first(named: "ce_subject") == "github.com/acme/infra")
        #expect(message.headers.first(named: "content-type") == "application/json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(message.value ?? [])) as? [String: Any])
        #expect(json["ref"] as? String == "refs/heads/main")
        #expect(json["receivedAt"] as? String == "2025-11-24T16:00:00.250Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1_764_000_000.123)) == "2025-11-24T16:00:00.123Z")
    }

    @Test func roundTripThroughTheBrokerRestoresTheEventAndItsData() async throws {
        let cluster = try TestCluster()
        let topic = try await cluster.makeTopic("cloudevents")
        let event = try CloudEvent(source: "/tributary/listener", type: ChangeEvent.eventType, subject: "github.com/acme/infra", payload: Self.change)
        let producer = try cluster.makeProducer()
        _ = try await producer.deliver(event.kafkaMessage(topic: topic, key: Self.change.repository.key))

        let consumer = try cluster.makeConsumer(group: TestCluster.uniqueGroup("cloudevents"), topics: [topic])
        var iterator = consumer.messages.makeAsyncIterator()
        let message = try #require(try await iterator.next())
        let received = try CloudEvent(kafkaMessage: message)
        #expect(received.id == event.id)
        #expect(received.type == event.type)
        #expect(received.source == event.source)
        #expect(received.subject == event.subject)
        #expect(abs(received.time.timeIntervalSince(event.time)) < 0.001)
        #expect(try received.decodePayload(as: ChangeEvent.self) == Self.change)
        await consumer.close()
        await producer.shutdown()
    }

    @Test func recordWithoutAnIDIsRejectedNamingTheHeader() {
        let message = KafkaConsumerMessage(
            topic: "t", partition: KafkaPartition(0), offset: KafkaOffset(3), key: nil, value: [],
            headers: [KafkaHeader(key: "ce_specversion", value: "1.0"), KafkaHeader(key: "ce_type", value: "x")],
            timestamp: nil
        )
        let error = #expect(throws: CloudEventError.self) { try CloudEvent(kafkaMessage: message) }
        #expect(error?.message.contains("ce_id") == true)
    }

    @Test func syncAndNotificationEventsRoundTripAsJSON() throws {
        let sync = SyncEvent(
            app: "shop", project: "default", repository: "github.com/acme/infra", ref: "refs/heads/main",
            revision: String(repeating: "c", count: 40), phase: .failed, attempt: 2, destination: "directory:/srv/shop",
            message: "invalid YAML", error: .init(file: "apps/shop/deploy.yaml", line: 12, message: "mapping values are not allowed here"),
            startedAt: Date(timeIntervalSince1970: 1_764_000_000), finishedAt: Date(timeIntervalSince1970: 1_764_000_001.25)
        )
        #expect(SyncEvent.eventType(for: .failed) == "dev.tributary.sync.failed")
        let decoded = try TributaryJSON.decode(SyncEvent.self, from: try TributaryJSON.encode(sync))
        #expect(decoded == sync)

        let notification = NotificationEvent(sink: "team-slack", app: "shop", trigger: "on-sync-failed", revision: sync.revision, syncEventID: "e1", sync: sync, createdAt: sync.finishedAt)
        #expect(try TributaryJSON.decode(NotificationEvent.self, from: try TributaryJSON.encode(notification)) == notification)
        #expect(notification.deduplicationKey == "team-slack/shop/on-sync-failed/\(sync.revision)")
    }

    @Test func topicsUseTheConfiguredPrefix() {
        #expect(TributaryTopics().all == ["tributary.changes", "tributary.requests", "tributary.sync", "tributary.notifications", "tributary.delivered", "tributary.dlq", "tributary.controls"])
        #expect(TributaryTopics(prefix: "prod").controls == "prod.controls")
        #expect(TributaryTopics(prefix: "prod").deadLetters == "prod.dlq")
        #expect(TributaryTopics(prefix: "prod").requests(cluster: "east") == "prod.requests.east")
    }
}

@Suite("Change event JSON")
struct ChangeEventJSONTests {
    static let events: [ChangeEvent] = [
        ChangeEvent(
            provider: "github",
            deliveryID: "d-1",
            hookID: "42",
            repository: .init(key: "github.com/acme/infra", cloneURLs: ["https://github.com/acme/infra.git", "git@github.com:acme/infra.git"], webURL: "https://github.com/acme/infra"),
            ref: "refs/heads/main",
            before: String(repeating: "1", count: 40),
            after: String(repeating: "2", count: 40),
            forced: true,
            pusher: "Zoë \"quoted\" \\ back/slash\n\t\u{01}\u{7f} 😀",
            changedPathHints: .init(added: ["a/ü.yaml"], modified: [], removed: ["b\u{1f}.yaml"], complete: false),
            receivedAt: Date(timeIntervalSince1970: 1_764_000_000.5)
        ),
        ChangeEvent(
            provider: "gitlab",
            deliveryID: "d-2",
            repository: .init(key: "gitlab.example.com/group/sub/repo", cloneURLs: []),
            ref: "refs/tags/v1",
            before: String(repeating: "0", count: 40),
            after: String(repeating: "3", count: 40),
            created: true,
            deleted: false,
            receivedAt: Date(timeIntervalSince1970: 0)
        ),
    ]

    @Test(arguments: Self.events)
    func handWrittenEncodingMatchesTributaryJSON(event: ChangeEvent) throws {
        let expected = try TributaryJSON.encode(event)
        #expect(String(decoding: event.jsonBytes, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
        #expect(try TributaryJSON.decode(ChangeEvent.self, from: Data(event.jsonBytes)) == event)
    }
}
