import HTTPTypes

/// The header names webhook senders use, parsed once.
extension HTTPField.Name {
    static let eventKey = HTTPField.Name("X-Event-Key")!
    static let forgejoDelivery = HTTPField.Name("X-Forgejo-Delivery")!
    static let forgejoEvent = HTTPField.Name("X-Forgejo-Event")!
    static let forgejoSignature = HTTPField.Name("X-Forgejo-Signature")!
    static let gitHubDelivery = HTTPField.Name("X-GitHub-Delivery")!
    static let gitHubEvent = HTTPField.Name("X-GitHub-Event")!
    static let gitHubHookID = HTTPField.Name("X-GitHub-Hook-ID")!
    static let giteaDelivery = HTTPField.Name("X-Gitea-Delivery")!
    static let giteaEvent = HTTPField.Name("X-Gitea-Event")!
    static let giteaSignature = HTTPField.Name("X-Gitea-Signature")!
    static let gitlabEvent = HTTPField.Name("X-Gitlab-Event")!
    static let gitlabEventUUID = HTTPField.Name("X-Gitlab-Event-UUID")!
    static let gitlabToken = HTTPField.Name("X-Gitlab-Token")!
    static let gitlabWebhookUUID = HTTPField.Name("X-Gitlab-Webhook-UUID")!
    static let hookUUID = HTTPField.Name("X-Hook-UUID")!
    static let hubSignature = HTTPField.Name("X-Hub-Signature")!
    static let hubSignature256 = HTTPField.Name("X-Hub-Signature-256")!
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let requestID = HTTPField.Name("X-Request-Id")!
    static let requestUUID = HTTPField.Name("X-Request-UUID")!
    static let webhookID = HTTPField.Name("webhook-id")!
    static let webhookSignature = HTTPField.Name("webhook-signature")!
    static let webhookTimestamp = HTTPField.Name("webhook-timestamp")!
}
