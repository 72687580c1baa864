import Foundation
import HTTPTypes
import Logging
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding

/// Turns one webhook request into a response, publishing its change events to Kafka first.
///
/// The order of checks is deliberate: nothing is parsed before the signature is verified on the raw
/// bytes, and nothing is answered 2xx that the broker did not acknowledge.
struct WebhookHandler: Sendable {
    let credentials: WebhookCredentials
    let verifier: WebhookVerifier
    let publisher: ListenerPublisher
    let topics: TributaryTopics
    let allowedRepositories: [Glob]
    let maxInFlight: Int
    let deduplicator: DeliveryDeduplicator
    let metrics: ListenerMetrics
    let logger: Logger

    init(configuration: TributaryConfiguration, publisher: ListenerPublisher, metrics: ListenerMetrics, logger: Logger) throws {
        self.credentials = try WebhookCredentials(settings: configuration.webhooks)
        self.verifier = WebhookVerifier(credentials: self.credentials)
        self.publisher = publisher
        self.topics = configuration.kafka.topics
        self.allowedRepositories = configuration.listener.allowedRepositories.map { Glob($0.lowercased()) }
        self.maxInFlight = configuration.listener.maxInFlight
        self.deduplicator = DeliveryDeduplicator(window: configuration.listener.deduplicationWindow)
        self.metrics = metrics
        self.logger = logger
    }

    /// Handles a delivery whose body was read in full (size limits are enforced by the caller).
    func handle(_ provider: WebhookProvider, headers: HTTPFields, body: [UInt8]) async -> WebhookResponse {
        let deliveryID = Self.deliveryID(provider, headers)
        let response = await self.process(provider, headers: headers, body: body, deliveryID: deliveryID)
        self.metrics.recordRequest(provider: provider.rawValue, outcome: response.outcome)
        if response.status.code >= 400 {
            self.logger.notice(
                "Webhook rejected",
                metadata: [
                    "webhook.provider": "\(provider.rawValue)", "webhook.delivery": "\(deliveryID ?? "-")",
                    "http.status": "\(response.status.code)", "reason": "\(response.reason ?? "")",
                ]
            )
        }
        return response
    }

    private func process(_ provider: WebhookProvider, headers: HTTPFields, body: [UInt8], deliveryID: String?) async -> WebhookResponse {
        // 1. Content type (a header, not the body).
        let form: Bool
        switch Self.mediaType(headers[.contentType]) {
        case "application/json", "text/plain", nil: form = false
        case "application/x-www-form-urlencoded": form = true
        case let other?: return .failure(.unsupportedMediaType, outcome: "unsupported_media_type", "content type \(other) is not supported; send application/json")
        }

        // 2. Signature or token, on the raw bytes.
        let scopes: Set<CredentialScope>
        let fingerprint: String
        switch self.verifier.verify(provider, headers: headers, body: body) {
        case .rejected(let reason):
            return .failure(.unauthorized, outcome: "unauthorized", reason)
        case .verified(let verifiedScopes, let verifiedFingerprint):
            scopes = verifiedScopes
            fingerprint = verifiedFingerprint
        }

        // 3. Parse.
        let parsed: ParsedWebhook
        do {
            let json = form ? try Self.formPayload(body) : body
            parsed = try Self.parse(provider, headers: headers, json: json)
        } catch {
            return .failure(.badRequest, outcome: "bad_request", "\(error)")
        }
        let pushes: [ParsedPush]
        switch parsed {
        case .ping:
            return WebhookResponse(status: .ok, outcome: "ping") { json in
                json.key("ping")
                json.string("pong")
            }
        case .ignored(let reason):
            return WebhookResponse(status: .accepted, outcome: "ignored") { json in
                json.key("ignored")
                json.string(reason)
            }
        case .pushes(let list): pushes = list
        }

        // 4. The secret must belong to the repository, and the repository must be allowed.
        let repositoryKey = pushes[0].repository.key
        guard scopes.contains(self.credentials.requiredScope(for: repositoryKey)) else {
            return .failure(.unauthorized, outcome: "unauthorized", "not signed with the secret configured for \(repositoryKey)")
        }
        guard self.allowedRepositories.isEmpty || self.allowedRepositories.contains(where: { $0.matches(repositoryKey) }) else {
            return .failure(.forbidden, outcome: "forbidden", "repository \(repositoryKey) is not allowed")
        }

        // 5. Duplicates.
        let hookID = Self.hookID(provider, headers)
        let key = DeliveryDeduplicator.Key(
            provider: provider.rawValue,
            hookID: hookID ?? "",
            deliveryID: deliveryID ?? "",
            fingerprint: fingerprint
        )
        switch self.deduplicator.reserve(key) {
        case .duplicate:
            self.metrics.recordDuplicate()
            return WebhookResponse(status: .ok, outcome: "duplicate") { json in
                json.key("duplicate")
                json.bool(true)
            }
        case .inFlight:
            return .failure(.serviceUnavailable, outcome: "unavailable", "this delivery is being processed; retry later", retryAfter: 1)
        case .reserved:
            break
        }

        // 6. Publish, and answer 2xx only once the broker holds every event.
        guard self.metrics.enterFlight(limit: self.maxInFlight) else {
            self.deduplicator.release(key)
            return .failure(.serviceUnavailable, outcome: "overloaded", "too many webhooks in flight", retryAfter: 1)
        }
        defer { self.metrics.leaveFlight() }
        let receivedAt = Date()
        let started = ContinuousClock.now
        do {
            let reports = try await self.publish(pushes, provider: provider, hookID: hookID, deliveryID: deliveryID, receivedAt: receivedAt)
            self.metrics.recordPublishLatency(ContinuousClock.now - started)
            self.deduplicator.confirm(key)
            return WebhookResponse(status: .accepted, outcome: "accepted") { json in
                func position(_ report: KafkaDeliveryReport) {
                    json.key("offset")
                    json.int(Int(report.offset.rawValue))
                    json.key("partition")
                    json.int(Int(report.partition.rawValue))
                }
                if reports.count > 1 {
                    json.key("events")
                    json.beginArray()
                    for (id, report) in reports {
                        json.beginObject()
                        json.key("id")
                        json.string(id)
                        position(report)
                        json.endObject()
                    }
                    json.endArray()
                }
                json.key("id")
                json.string(reports[0].id)
                position(reports[0].report)
                json.key("topic")
                json.string(reports[0].report.topic)
            }
        } catch {
            self.deduplicator.release(key)
            self.logger.warning("Change event not acknowledged by Kafka", metadata: ["error": "\(error)", "webhook.provider": "\(provider.rawValue)"])
            return .failure(.serviceUnavailable, outcome: "unavailable", "the event could not be stored; retry later", retryAfter: 5)
        }
    }

    private func publish(
        _ pushes: [ParsedPush],
        provider: WebhookProvider,
        hookID: String?,
        deliveryID: String?,
        receivedAt: Date
    ) async throws -> [(id: String, report: KafkaDeliveryReport)] {
        let messages = pushes.map { push -> (String, KafkaProducerMessage) in
            let change = ChangeEvent(
                provider: provider.rawValue,
                deliveryID: deliveryID ?? UUID().uuidString.lowercased(),
                hookID: hookID,
                repository: push.repository,
                ref: push.ref,
                before: push.before,
                after: push.after,
                created: push.created,
                deleted: push.deleted,
                forced: push.forced,
                pusher: push.pusher,
                changedPathHints: push.changedPathHints,
                receivedAt: receivedAt
            )
            // A stable id: a retried delivery republishes the same event id, so consumers can drop it.
            let id = deliveryID.map { "\(provider.rawValue):\($0):\(push.ref)" } ?? UUID().uuidString.lowercased()
            let event = CloudEvent(
                id: id,
                source: "/tributary/webhooks/\(provider.rawValue)",
                type: ChangeEvent.eventType,
                time: receivedAt,
                subject: push.repository.key,
                data: change.jsonBytes
            )
            return (id, event.kafkaMessage(topic: self.topics.changes, key: push.repository.key))
        }
        if messages.count == 1 {
            return [(messages[0].0, try await self.publisher.deliver(messages[0].1))]
        }
        return try await withThrowingTaskGroup(of: (Int, String, KafkaDeliveryReport).self) { group in
            for (index, (id, message)) in messages.enumerated() {
                group.addTask { (index, id, try await self.publisher.deliver(message)) }
            }
            var results: [(Int, String, KafkaDeliveryReport)] = []
            for try await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map { ($0.1, $0.2) }
        }
    }

    static func parse(_ provider: WebhookProvider, headers: HTTPFields, json: [UInt8]) throws -> ParsedWebhook {
        switch provider {
        case .github, .gitea, .forgejo: try GitHubPayloadParser.parse(provider, headers: headers, body: json)
        case .gitlab: try GitLabPayloadParser.parse(headers: headers, body: json)
        case .bitbucket: try BitbucketPayloadParser.parseCloud(headers: headers, body: json)
        case .bitbucketServer: try BitbucketPayloadParser.parseServer(headers: headers, body: json)
        case .standard: try StandardPayloadParser.parse(body: json)
        }
    }

    static func deliveryID(_ provider: WebhookProvider, _ headers: HTTPFields) -> String? {
        switch provider {
        case .github: headers[.gitHubDelivery]
        case .gitea: headers[.giteaDelivery] ?? headers[.gitHubDelivery]
        case .forgejo: headers[.forgejoDelivery] ?? headers[.giteaDelivery]
        // Idempotency-Key stays the same across GitLab's retries; X-Gitlab-Event-UUID on older versions.
        case .gitlab: headers[.webhookID] ?? headers[.idempotencyKey] ?? headers[.gitlabEventUUID]
        case .bitbucket: headers[.requestUUID]
        case .bitbucketServer: headers[.requestID]
        case .standard: headers[.webhookID]
        }
    }

    static func hookID(_ provider: WebhookProvider, _ headers: HTTPFields) -> String? {
        switch provider {
        case .github, .gitea, .forgejo: headers[.gitHubHookID]
        case .gitlab: headers[.gitlabWebhookUUID]
        case .bitbucket: headers[.hookUUID]
        case .bitbucketServer, .standard: nil
        }
    }

    /// The media type without parameters, lower-cased.
    static func mediaType(_ contentType: String?) -> String? {
        guard let contentType else { return nil }
        var type = Substring(contentType)
        if let semicolon = type.utf8.firstIndex(of: UInt8(ascii: ";")) { type = type[..<semicolon] }
        while type.first?.isWhitespace == true { type = type.dropFirst() }
        while type.last?.isWhitespace == true { type = type.dropLast() }
        return type.lowercased()
    }

    /// GitHub's form encoding: the JSON is the `payload` field.
    static func formPayload(_ body: [UInt8]) throws -> [UInt8] {
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") where pair.hasPrefix("payload=") {
            let encoded = pair.dropFirst("payload=".count).replacingOccurrences(of: "+", with: " ")
            guard let decoded = encoded.removingPercentEncoding else { throw MalformedPayload(reason: "payload field is not URL-encoded") }
            return Array(decoded.utf8)
        }
        throw MalformedPayload(reason: "form body has no payload field")
    }
}

/// A status, a short JSON body, and what to count it as.
struct WebhookResponse: Sendable {
    var status: HTTPResponse.Status
    var outcome: String
    /// The body: one compact JSON object.
    var jsonBody: [UInt8]
    /// The rejection reason, for logs. Never contains a secret or an expected MAC.
    var reason: String?
    var retryAfter: Int?

    /// - Parameters:
    ///   - members: writes the object's members, keys in sorted order.
    init(status: HTTPResponse.Status, outcome: String, reason: String? = nil, retryAfter: Int? = nil, members: (inout JSONWriter) -> Void) {
        var json = JSONWriter(capacity: 128)
        json.beginObject()
        members(&json)
        json.endObject()
        self.status = status
        self.outcome = outcome
        self.jsonBody = json.bytes
        self.reason = reason
        self.retryAfter = retryAfter
    }

    /// `{"error": reason}`.
    static func failure(_ status: HTTPResponse.Status, outcome: String, _ reason: String, retryAfter: Int? = nil) -> WebhookResponse {
        WebhookResponse(status: status, outcome: outcome, reason: reason, retryAfter: retryAfter) { json in
            json.key("error")
            json.string(reason)
        }
    }
}
