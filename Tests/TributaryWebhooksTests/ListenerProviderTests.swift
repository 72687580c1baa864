import Foundation
import HTTPTypes
import Testing
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding
import TributaryTestSupport
import TributaryWebhooks

@Suite("Listener: every provider", .timeLimit(.minutes(3)))
struct ListenerProviderTests {
    @Test(arguments: WebhookProvider.allCases)
    func signedPushIsPublishedAndForgeriesAreNot(provider: WebhookProvider) async throws {
        let harness = try await ListenerHarness.make()
        let good = SignedDelivery(provider, body: Payloads.push(provider), gitlabSigning: false)
        try await harness.run { client in
            // Forgeries first: wrong secret, rotated-out secret, no signature at all.
            let wrong = SignedDelivery(provider, body: Payloads.push(provider), secret: provider == .standard ? TestSecrets.previousStandard : "not-the-secret")
            #expect(try await wrong.send(client).status == .unauthorized)
            let rotated = SignedDelivery(provider, body: Payloads.push(provider), secret: provider == .standard ? TestSecrets.previousStandard : TestSecrets.previousHMAC)
            #expect(try await rotated.send(client).status == .unauthorized)
            let unsigned = good.removing("X-Hub-Signature-256", "X-Hub-Signature", "X-Gitea-Signature", "X-Forgejo-Signature", "X-Gitlab-Token", "webhook-signature")
            let unsignedResponse = try await unsigned.send(client)
            #expect(unsignedResponse.status == .unauthorized)
            #expect((unsignedResponse.json["error"] as? String)?.contains("missing") == true)

            let response = try await good.send(client)
            #expect(response.status == .accepted)
            #expect(response.json["topic"] as? String == harness.topics.changes)
            #expect(response.json["offset"] as? Int == 0)
        }

        let records = try await harness.changes(until: good.deliveryID)
        #expect(records.count == 1, "only the signed delivery was published")
        let record = try #require(records.last)
        #expect(record.keyString == Payloads.expectedKey(provider))
        let event = try CloudEvent(kafkaMessage: record)
        #expect(event.type == "dev.tributary.git.push")
        #expect(event.source == "/tributary/webhooks/\(provider.rawValue)")
        #expect(event.subject == Payloads.expectedKey(provider))
        #expect(record.headers.first(named: "content-type") == "application/json")
        let change = try event.decodePayload(as: ChangeEvent.self)
        #expect(change.provider == provider.rawValue)
        #expect(change.deliveryID == good.deliveryID)
        #expect(change.repository.key == Payloads.expectedKey(provider))
        #expect(change.ref == "refs/heads/main")
        #expect(change.before == Payloads.before)
        #expect(change.after == Payloads.after)
        #expect(!change.created && !change.deleted)
        #expect(change.pusher != nil)
        if Payloads.hasPathHints(provider) {
            #expect(change.changedPathHints?.added == ["apps/shop/new.yaml"])
            #expect(change.changedPathHints?.modified == ["apps/shop/deploy.yaml"])
            #expect(change.changedPathHints?.complete == true)
        } else {
            #expect(change.changedPathHints == nil)
        }
    }

    @Test(arguments: [WebhookProvider.gitea, .forgejo, .github, .gitlab, .bitbucket, .bitbucketServer, .standard])
    func providerIsDetectedFromHeaders(provider: WebhookProvider) async throws {
        let harness = try await ListenerHarness.make()
        try await harness.run { client in
            let response = try await SignedDelivery(provider, body: Payloads.push(provider)).send(client, path: "/hooks")
            #expect(response.status == .accepted, "\(response.json)")
        }
    }

    @Test(arguments: [WebhookProvider.gitlab, .standard])
    func staleStandardWebhooksTimestampIsRejected(provider: WebhookProvider) async throws {
        let harness = try await ListenerHarness.make()
        try await harness.run { client in
            let stale = SignedDelivery(provider, body: Payloads.push(provider), gitlabSigning: true, timestamp: Date().addingTimeInterval(-600))
            let response = try await stale.send(client)
            #expect(response.status == .unauthorized)
            #expect((response.json["error"] as? String)?.contains("tolerance") == true)
            let fresh = SignedDelivery(provider, body: Payloads.push(provider), gitlabSigning: true)
            #expect(try await fresh.send(client).status == .accepted)
        }
    }
}
