import HTTPTypes

/// A Git host (or generic sender) whose webhooks the listener understands.
public enum WebhookProvider: String, CaseIterable, Hashable, Sendable {
    case github
    case gitlab
    case gitea
    case forgejo
    case bitbucket
    case bitbucketServer = "bitbucket-server"
    /// Standard Webhooks v1 from any sender, with Tributary's generic push payload.
    case standard

    /// Recognises the sender from its headers. Gitea and Forgejo also send GitHub-style headers, and
    /// Forgejo also Gitea-style ones, so they are checked first, most specific first.
    ///
    /// - Returns: `nil` when no known header is present.
    public static func detect(from headers: HTTPFields) -> WebhookProvider? {
        func has(_ name: String) -> Bool { HTTPField.Name(name).map { headers[$0] != nil } ?? false }
        if has("X-Forgejo-Event") || has("X-Forgejo-Signature") { return .forgejo }
        if has("X-Gitea-Event") || has("X-Gitea-Signature") { return .gitea }
        if has("X-GitHub-Event") { return .github }
        if has("X-Gitlab-Event") { return .gitlab }
        if has("X-Event-Key") { return has("X-Hook-UUID") || has("X-Request-UUID") ? .bitbucket : .bitbucketServer }
        if has("webhook-signature") { return .standard }
        return nil
    }
}
