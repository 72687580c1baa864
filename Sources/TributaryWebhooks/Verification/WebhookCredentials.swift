import Crypto
import Foundation
import TributaryCore

/// Which configured secret verified a delivery: the provider's own, or a repository override's.
enum CredentialScope: Hashable, Sendable, CustomStringConvertible {
    case provider
    case repository(String)

    var description: String {
        switch self {
        case .provider: "provider"
        case .repository(let key): "repository \(key)"
        }
    }
}

/// The secrets of every provider, resolved once at start-up, each tagged with its scope.
///
/// Repository overrides are candidates for every provider, because the repository is only known
/// after the body is parsed — which happens after verification. Once parsed, `requiredScope(for:)`
/// says which scope must have verified it.
struct WebhookCredentials: Sendable {
    struct Candidate<Secret: Sendable>: Sendable {
        var scope: CredentialScope
        var secret: Secret
    }

    struct Provider: Sendable {
        /// HMAC keys (GitHub, Gitea, Forgejo, Bitbucket) or Standard Webhooks keys (`standard`).
        var signingKeys: [Candidate<SymmetricKey>] = []
        /// GitLab `X-Gitlab-Token` values.
        var tokens: [Candidate<String>] = []
        /// GitLab signing-token keys (Standard Webhooks).
        var standardKeys: [Candidate<SymmetricKey>] = []
        var allowSHA1 = false
        var timestampTolerance: Duration = .seconds(300)
    }

    private var providers: [WebhookProvider: Provider] = [:]
    private var overriddenRepositories: Set<String> = []

    /// Resolves every secret reference.
    ///
    /// - Throws: `WebhookConfigurationError` naming the provider and the reference (never a value).
    init(settings: WebhookSettings, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.overriddenRepositories = Set(settings.repositories.keys)
        for provider in WebhookProvider.allCases {
            var resolved = Provider()
            var sources: [(CredentialScope, WebhookSettings.ProviderSettings)] = []
            if let own = settings.providers[provider.rawValue] {
                sources.append((.provider, own))
                resolved.allowSHA1 = own.allowSHA1
                resolved.timestampTolerance = own.timestampTolerance
            }
            for (repository, override) in settings.repositories.sorted(by: { $0.key < $1.key }) {
                sources.append((.repository(repository), override))
            }
            for (scope, source) in sources {
                let context = scope == .provider ? "webhooks.\(provider.rawValue)" : "webhooks.repositories.\(scope)"
                for reference in source.secrets {
                    let secret = try Self.resolve(reference, context: "\(context).secrets", environment: environment)
                    if provider == .standard {
                        guard let key = Signatures.standardWebhookKey(secret) else {
                            // An override meant for HMAC providers is simply not a Standard Webhooks key.
                            if scope == .provider {
                                throw WebhookConfigurationError(message: "\(context).secrets: \(reference) is not a whsec_ base64 secret")
                            }
                            continue
                        }
                        resolved.signingKeys.append(.init(scope: scope, secret: key))
                    } else {
                        resolved.signingKeys.append(.init(scope: scope, secret: SymmetricKey(data: Array(secret.utf8))))
                    }
                }
                for reference in source.tokens {
                    resolved.tokens.append(.init(scope: scope, secret: try Self.resolve(reference, context: "\(context).tokens", environment: environment)))
                }
                for reference in source.signingSecrets {
                    let secret = try Self.resolve(reference, context: "\(context).signingSecrets", environment: environment)
                    guard let key = Signatures.standardWebhookKey(secret) else {
                        throw WebhookConfigurationError(message: "\(context).signingSecrets: \(reference) is not a whsec_ base64 secret")
                    }
                    resolved.standardKeys.append(.init(scope: scope, secret: key))
                }
            }
            self.providers[provider] = resolved
        }
    }

    subscript(provider: WebhookProvider) -> Provider {
        self.providers[provider] ?? Provider()
    }

    /// The scope whose secret must have signed a delivery for `repository`.
    func requiredScope(for repository: String) -> CredentialScope {
        self.overriddenRepositories.contains(repository) ? .repository(repository) : .provider
    }

    private static func resolve(_ reference: SecretReference, context: String, environment: [String: String]) throws -> String {
        do {
            return try reference.resolve(environment: environment)
        } catch {
            throw WebhookConfigurationError(message: "\(context): \(error)")
        }
    }
}

/// A webhook secret that cannot be used. Names the setting and the reference, never a value.
public struct WebhookConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { self.message }
}
