import Foundation
import HTTPTypes
import Testing
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding
import TributaryTestSupport
import TributaryWebhooks

@Suite("Listener: secrets shared between scopes, retries, hook kinds", .timeLimit(.minutes(3)))
struct ListenerEdgeCaseTests {
    @Test func repositoryOverrideGivenAsURLLocksThatRepository() throws {
        let yaml = """
            webhooks:
              repositories:
                "https://GitHub.com/acme/payments.git": { secrets: [ { value: "x" } ] }
            """
        let configuration = try TributaryConfiguration.parse(yaml: yaml, file: "c.yaml")
        #expect(Array(configuration.webhooks.repositories.keys) == ["github.com/acme/payments"])
        let bad = #expect(throws: ConfigurationError.self) {
            try TributaryConfiguration.parse(yaml: "webhooks:\n  repositories:\n    \"not a repo\": { secrets: [] }\n", file: "c.yaml")
        }
        #expect(bad?.line == 3)
    }

    @Test func standardWebhooksRetryWithAFreshTimestampIsADuplicate() async throws {
        let harness = try await ListenerHarness.make()
        let body = Payloads.push(.standard)
        let first = SignedDelivery(.standard, body: body, deliveryID: "msg_retry", timestamp: Date().addingTimeInterval(-30))
        let retry = SignedDelivery(.standard, body: body, deliveryID: "msg_retry", timestamp: Date())
        try await harness.run { client in
            let accepted = try await first.send(client)
            #expect(accepted.status == .accepted)
            let again = try await retry.send(client)
            #expect(again.status == .ok)
            #expect(again.json["duplicate"] as? Bool == true)
        }
    }

    @Test func gitLabSystemHookOfAnotherKindIsIgnored() async throws {
        let harness = try await ListenerHarness.make()
        let projectCreate = SignedDelivery(.gitlab, body: Payloads.json(["event_name": "project_create", "name": "infra", "path_with_namespace": "platform/infra"]), event: "System Hook")
        let repositoryUpdate = SignedDelivery(.gitlab, body: Payloads.json(["event_name": "repository_update", "changes": []]), event: "System Hook")
        try await harness.run { client in
            for delivery in [projectCreate, repositoryUpdate] {
                let response = try await delivery.send(client)
                #expect(response.status == .accepted)
                #expect(response.json["ignored"] != nil)
            }
        }
    }

    @Test func pushMovingSeveralRefsIsAnsweredWithEveryEvent() async throws {
        let harness = try await ListenerHarness.make()
        var payload = try JSONSerialization.jsonObject(with: Data(Payloads.push(.bitbucketServer))) as! [String: Any]
        var changes = payload["changes"] as! [[String: Any]]
        changes.append(["ref": ["id": "refs/heads/release", "type": "BRANCH"], "refId": "refs/heads/release", "fromHash": Payloads.before, "toHash": Payloads.after, "type": "UPDATE"])
        payload["changes"] = changes
        let delivery = SignedDelivery(.bitbucketServer, body: Payloads.json(payload))
        try await harness.run { client in
            let response = try await delivery.send(client)
            #expect(response.status == .accepted)
            let events = try #require(response.json["events"] as? [[String: Any]])
            #expect(events.compactMap { $0["id"] as? String } == ["bitbucket-server:\(delivery.deliveryID):refs/heads/main", "bitbucket-server:\(delivery.deliveryID):refs/heads/release"])
            #expect(events.allSatisfy { $0["offset"] is Int && $0["partition"] is Int })
            #expect(response.json["id"] as? String == events.first?["id"] as? String)
            #expect(response.json["topic"] as? String == harness.topics.changes)
        }
    }

    @Test func forcePushHintsAreMarkedIncomplete() async throws {
        let harness = try await ListenerHarness.make()
        var payload = try JSONSerialization.jsonObject(with: Data(Payloads.push(.github))) as! [String: Any]
        payload["forced"] = true
        let forced = SignedDelivery(.github, body: Payloads.json(payload))
        try await harness.run { client in
            let response = try await forced.send(client)
            #expect(response.status == .accepted)
        }
        let records = try await harness.changes(until: forced.deliveryID)
        let change = try CloudEvent(kafkaMessage: records[0]).decodePayload(as: ChangeEvent.self)
        #expect(change.forced)
        #expect(change.changedPathHints?.complete == false)
    }

    @Test func cloneURLsOfAnotherRepositoryAreDropped() async throws {
        let harness = try await ListenerHarness.make()
        var payload = try JSONSerialization.jsonObject(with: Data(Payloads.push(.github))) as! [String: Any]
        var repository = payload["repository"] as! [String: Any]
        repository["ssh_url"] = "git@github.com:evil/other.git"
        payload["repository"] = repository
        let delivery = SignedDelivery(.github, body: Payloads.json(payload))
        try await harness.run { client in
            let response = try await delivery.send(client)
            #expect(response.status == .accepted)
        }
        let records = try await harness.changes(until: delivery.deliveryID)
        let change = try CloudEvent(kafkaMessage: records[0]).decodePayload(as: ChangeEvent.self)
        #expect(change.repository.cloneURLs == ["https://github.com/acme/infra.git"])
    }
}
