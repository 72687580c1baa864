import Foundation
import HTTPTypes
import NIOCore
import Testing
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding
import TributaryTestSupport
import TributaryWebhooks

@Suite("Listener: events, duplicates, failures", .timeLimit(.minutes(3)))
struct ListenerBehaviourTests {
    @Test func pingIgnoredEventTagPushAndBranchDeletion() async throws {
        let harness = try await ListenerHarness.make()
        let tag = SignedDelivery(.github, body: Payloads.push(.github, ref: "refs/tags/v1.2.0", before: Payloads.zero))
        let deletion = SignedDelivery(.github, body: Payloads.push(.github, ref: "refs/heads/feature", after: Payloads.zero))
        let giteaDeletion = SignedDelivery(
            .gitea,
            body: Payloads.json(["ref": "old-branch", "ref_type": "branch", "repository": ["clone_url": "https://gitea.example.com/acme/infra.git"]]),
            event: "delete"
        )
        try await harness.run { client in
            let ping = try await SignedDelivery(.github, body: Payloads.json(["zen": "Keep it logically awesome.", "hook_id": 101]), event: "ping").send(client)
            #expect(ping.status == .ok)
            let bitbucketPing = try await SignedDelivery(.bitbucketServer, body: Payloads.json(["test": true]), event: "diagnostics:ping").send(client)
            #expect(bitbucketPing.status == .ok)
            let ignored = try await SignedDelivery(.github, body: Payloads.json(["action": "opened"]), event: "pull_request").send(client)
            #expect(ignored.status == .accepted)
            #expect((ignored.json["ignored"] as? String)?.contains("pull_request") == true)
            #expect(ignored.json["offset"] == nil)
            #expect(try await tag.send(client).status == .accepted)
            #expect(try await deletion.send(client).status == .accepted)
            #expect(try await giteaDeletion.send(client).status == .accepted)
        }
        let records = try await harness.changes(until: giteaDeletion.deliveryID)
        let changes = try records.map { try CloudEvent(kafkaMessage: $0).decodePayload(as: ChangeEvent.self) }
        #expect(changes.count == 3, "ping and ignored events are not published")
        #expect(changes[0].ref == "refs/tags/v1.2.0")
        #expect(changes[0].created && !changes[0].deleted)
        #expect(changes[1].ref == "refs/heads/feature")
        #expect(changes[1].deleted && changes[1].after == Payloads.zero)
        #expect(changes[2].ref == "refs/heads/old-branch")
        #expect(changes[2].deleted && changes[2].provider == "gitea")
    }

    @Test func slowAndOversizedRequestsAreCutOffAndTheListenerServesOn() async throws {
        let harness = try await ListenerHarness.make(listenerYAML: "  requestTimeout: 5s\n  maxHeaderBytes: 8192")
        try await harness.run { client in
            let port = try #require(client.port)
            // A slow-loris client: half a request head, then nothing. The server hangs up on it.
            // (5 s, not 1: under a loaded machine's stalls a 1 s deadline can beat a prompt request.)
            let loris = try run(["python3", "-c", """
                import socket, sys, time
                s = socket.create_connection(("127.0.0.1", \(port)))
                s.sendall(b"POST /hooks/github HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: ")
                s.settimeout(60)
                print("closed" if s.recv(1) == b"" else "answered")
                """])
            #expect(loris == "closed")
            // Headers past maxHeaderBytes are refused, not buffered.
            let oversized = try run(["python3", "-c", """
                import socket
                s = socket.create_connection(("127.0.0.1", \(port)))
                s.settimeout(60)
                s.sendall(b"POST /hooks/github HTTP/1.1\\r\\nHost: x\\r\\nX-Big: " + b"a" * 65536 + b"\\r\\nContent-Length: 0\\r\\n\\r\\n")
                data = s.recv(64)
                print((data.split(b"\\r\\n")[0].decode() if data else "closed"))
                """])
            #expect(oversized == "closed" || oversized.hasPrefix("HTTP/1.1 4"), "\(oversized)")
            // Still serving (on a new connection: the test client's own idled out meanwhile).
            #expect(try run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/healthz"]) == "200")
        }
    }

    @Test func metricsCanLiveOnTheirOwnAddress() async throws {
        let harness = try await ListenerHarness.make(listenerYAML: "  metricsAddress: \"127.0.0.1:0\"")
        try await harness.run { client in
            let scrape = try await client.execute(uri: "/metrics", method: .get)
            #expect(scrape.status == .notFound)
        }
        let metrics = try #require(harness.listener.makeMetricsApplication())
        try await metrics.test(.live) { client in
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            #expect(String(buffer: response.body).contains("tributary_webhook_in_flight"))
        }
    }

    @Test func redeliveryIsAnsweredWithoutPublishingAgain() async throws {
        let harness = try await ListenerHarness.make()
        let delivery = SignedDelivery(.github, body: Payloads.push(.github))
        let sentinel = SignedDelivery(.github, body: Payloads.push(.github, after: "3333333333333333333333333333333333333333"))
        try await harness.run { client in
            let first = try await delivery.send(client)
            #expect(first.status == .accepted)
            let again = try await delivery.send(client)
            #expect(again.status == .ok)
            #expect(again.json["duplicate"] as? Bool == true)
            #expect(try await sentinel.send(client).status == .accepted)
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            let text = String(buffer: metrics.body)
            #expect(text.contains("tributary_webhook_duplicates_total 1"))
            #expect(text.contains("tributary_webhook_requests_total{provider=\"github\",outcome=\"accepted\"} 2"))
            #expect(text.contains("tributary_webhook_publish_seconds_count 2"))
        }
        let records = try await harness.changes(until: sentinel.deliveryID)
        #expect(records.count == 2)
    }

    @Test(.enabled(if: TestCluster.isEmbedded, "injects a fault through the embedded broker")) func brokerOutageIsA503AndTheRetryIsAccepted() async throws {
        let harness = try await ListenerHarness.make(publishTimeout: "1s")
        let broker = try #require(harness.cluster.embedded, "needs the embedded broker to take it down")
        let delivery = SignedDelivery(.github, body: Payloads.push(.github))
        try await harness.run { client in
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
            broker.setBrokerDown()
            let refused = try await delivery.send(client)
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.headers[.retryAfter] != nil)
            #expect(refused.json["offset"] == nil)
            broker.setBrokerUp()
            // GitHub's "Redeliver": the same delivery again, until the broker is back.
            var accepted = false
            for _ in 0..<40 where !accepted {
                let retry = try await delivery.send(client)
                accepted = retry.status == .accepted
                if !accepted { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(accepted)
        }
        let records = try await harness.changes(until: delivery.deliveryID)
        #expect(records.count >= 1)
        #expect(records.allSatisfy { $0.headers.first(named: "ce_id") == records[0].headers.first(named: "ce_id") }, "only that delivery's event")
    }

    @Test func badRequestsGetPreciseStatusesAndPublishNothing() async throws {
        let harness = try await ListenerHarness.make(listenerYAML: "  maxBodyBytes: 4096\n  allowedRepositories: [\"github.com/acme/*\"]")
        let sentinel = SignedDelivery(.github, body: Payloads.push(.github))
        try await harness.run { client in
            let oversized = SignedDelivery(.github, body: Array(repeating: UInt8(ascii: " "), count: 5000) + Payloads.push(.github))
            #expect(try await oversized.send(client).status == .contentTooLarge)
            let malformed = SignedDelivery(.github, body: Array("{\"ref\": ".utf8))
            let malformedResponse = try await malformed.send(client)
            #expect(malformedResponse.status == .badRequest)
            #expect(malformedResponse.json["error"] as? String == "body is not valid JSON: unexpected end of the document at byte 8")
            let missingField = SignedDelivery(.github, body: Payloads.json(["ref": "refs/heads/main"]))
            #expect(try await missingField.send(client).status == .badRequest)
            let xml = SignedDelivery(.github, body: Array("<push/>".utf8), contentType: "application/xml")
            #expect(try await xml.send(client).status == .unsupportedMediaType)
            let unknown = try await client.execute(uri: "/hooks/svn", method: .post, headers: sentinel.headers, body: ByteBuffer(bytes: sentinel.body))
            #expect(unknown.status == .notFound)
            let get = try await client.execute(uri: "/hooks/github", method: .get)
            #expect(get.status == .methodNotAllowed)
            #expect(get.headers[.allow] == "POST")
            let undetectable = try await client.execute(uri: "/hooks", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(bytes: sentinel.body))
            #expect(undetectable.status == .badRequest)
            let elsewhere = SignedDelivery(.github, body: Payloads.push(.github, repository: "evil/infra"))
            #expect(try await elsewhere.send(client).status == .forbidden)

            // A repository with its own secret: the provider secret no longer works for it, its own does.
            let paymentsWithDefault = SignedDelivery(.github, body: Payloads.push(.github, repository: "acme/payments"))
            #expect(try await paymentsWithDefault.send(client).status == .unauthorized)
            let paymentsOwn = SignedDelivery(.github, body: Payloads.push(.github, repository: "acme/payments"), secret: TestSecrets.payments)
            #expect(try await paymentsOwn.send(client).status == .accepted)
            // ...and its secret does not open other repositories.
            let otherWithPayments = SignedDelivery(.github, body: Payloads.push(.github, repository: "acme/web"), secret: TestSecrets.payments)
            #expect(try await otherWithPayments.send(client).status == .unauthorized)

            #expect(try await sentinel.send(client).status == .accepted)
        }
        let records = try await harness.changes(until: sentinel.deliveryID)
        #expect(records.map(\.keyString) == ["github.com/acme/payments", "github.com/acme/infra"])
    }

    @Test func rejectionsNeverEchoSecretsOrExpectedSignatures() async throws {
        let harness = try await ListenerHarness.make()
        try await harness.run { client in
            for provider in WebhookProvider.allCases {
                let forged = SignedDelivery(provider, body: Payloads.push(provider), secret: provider == .standard ? TestSecrets.previousStandard : "forged")
                let response = try await forged.send(client)
                let body = String(buffer: response.body)
                #expect(response.status == .unauthorized)
                for secret in [TestSecrets.hmac, TestSecrets.gitlabToken, TestSecrets.standard, TestSecrets.payments] {
                    #expect(!body.contains(secret))
                }
                let expected = SignedDelivery(provider, body: Payloads.push(provider))
                for field in expected.headers { #expect(!body.contains(field.value) || field.value.count < 16) }
            }
        }
    }

    @Test func formEncodedGitHubPayloadIsUnderstood() async throws {
        let harness = try await ListenerHarness.make()
        let json = String(decoding: Payloads.push(.github), as: UTF8.self)
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let form = "payload=" + json.addingPercentEncoding(withAllowedCharacters: allowed)!
        let delivery = SignedDelivery(.github, body: Array(form.utf8), contentType: "application/x-www-form-urlencoded")
        try await harness.run { client in
            let response = try await delivery.send(client)
            #expect(response.status == .accepted)
        }
        let records = try await harness.changes(until: delivery.deliveryID)
        #expect(try CloudEvent(kafkaMessage: records[0]).decodePayload(as: ChangeEvent.self).repository.key == "github.com/acme/infra")
    }

    @Test func readinessReportsMissingTopics() async throws {
        let ready = try await ListenerHarness.make()
        try await ready.run { client in
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)
            let readiness = try await client.execute(uri: "/readyz", method: .get)
            #expect(readiness.status == .ok)
        }
        let missing = try await ListenerHarness.make(createTopics: false)
        try await missing.run { client in
            let readiness = try await client.execute(uri: "/readyz", method: .get)
            #expect(readiness.status == .serviceUnavailable)
            #expect((readiness.json["error"] as? String)?.contains(missing.topics.changes) == true)
        }
    }
}
