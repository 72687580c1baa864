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
        func has(_ name: HTTPField.Name) -> Bool { headers[name] != nil }
        if has(.forgejoEvent) || has(.forgejoSignature) { return .forgejo }
        if has(.giteaEvent) || has(.giteaSignature) { return .gitea }
        if has(.gitHubEvent) { return .github }
        if has(.gitlabEvent) { return .gitlab }
        if has(.eventKey) { return has(.hookUUID) || has(.requestUUID) ? .bitbucket : .bitbucketServer }
        if has(.webhookSignature) { return .standard }
        return nil
    }
}
