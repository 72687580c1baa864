/// The `webhooks` section: how each Git host's deliveries are verified.
public struct WebhookSettings: Sendable {
    /// Settings per provider name (`github`, `gitlab`, `gitea`, `forgejo`, `bitbucket`,
    /// `bitbucket-server`, `standard`). A provider with no entry accepts nothing.
    public var providers: [String: ProviderSettings] = [:]
    /// Per-repository overrides by repository key; they replace the provider's secrets for that repository.
    public var repositories: [String: ProviderSettings] = [:]

    public init() {}

    public static let providerNames = ["github", "gitlab", "gitea", "forgejo", "bitbucket", "bitbucket-server", "standard"]

    /// Secrets for one provider (or one repository). Several entries are all accepted, for rotation.
    public struct ProviderSettings: Sendable {
        /// `secrets`: HMAC secrets (GitHub, Gitea, Forgejo, Bitbucket) or `whsec_` secrets (standard).
        public var secrets: [SecretReference] = []
        /// `tokens`: GitLab `X-Gitlab-Token` values.
        public var tokens: [SecretReference] = []
        /// `signingSecrets`: GitLab signing tokens (Standard Webhooks).
        public var signingSecrets: [SecretReference] = []
        /// `allowSHA1`: GitHub only — also accept the legacy `X-Hub-Signature` (SHA-1). Default false.
        public var allowSHA1: Bool = false
        /// `timestampTolerance`: Standard Webhooks timestamp tolerance. Default 5 min.
        public var timestampTolerance: Duration = .seconds(300)

        public init() {}

        init(node: ConfigurationNode) throws {
            let mapping = try node.mapping(allowedKeys: ["secrets", "tokens", "signingSecrets", "allowSHA1", "timestampTolerance"])
            if let value = mapping["secrets"] { self.secrets = try value.sequence().map { try $0.secretReference() } }
            if let value = mapping["tokens"] { self.tokens = try value.sequence().map { try $0.secretReference() } }
            if let value = mapping["signingSecrets"] { self.signingSecrets = try value.sequence().map { try $0.secretReference() } }
            if let value = mapping["allowSHA1"] { self.allowSHA1 = try value.bool() }
            if let value = mapping["timestampTolerance"] { self.timestampTolerance = try value.duration() }
        }
    }

    init(node: ConfigurationNode) throws {
        let mapping = try node.mapping(allowedKeys: Set(Self.providerNames + ["repositories"]))
        for (key, value) in mapping.entries where !value.isNull {
            if key == "repositories" {
                for (repository, settings) in try value.mapping(allowedKeys: nil).entries {
                    // Normalised like the listener's keys, so a URL here locks the same repository.
                    guard let key = RepositoryKey(url: repository) else {
                        throw settings.error("'\(repository)' is not a repository key or URL (host/owner/name)")
                    }
                    self.repositories[key.rawValue] = try ProviderSettings(node: settings)
                }
            } else {
                self.providers[key] = try ProviderSettings(node: value)
            }
        }
    }
}
