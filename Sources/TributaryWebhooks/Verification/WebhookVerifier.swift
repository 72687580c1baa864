import Crypto
import Foundation
import HTTPTypes

/// Verifies a delivery's signature or token on the raw body bytes, before anything parses them.
struct WebhookVerifier: Sendable {
    let credentials: WebhookCredentials
    /// The clock Standard Webhooks timestamps are checked against; injectable for tests.
    var now: @Sendable () -> Date = { Date() }

    enum Outcome: Equatable {
        /// Verified by secrets of `scopes` (several when secrets are shared). `fingerprint` identifies
        /// the delivery's content for deduplication.
        case verified(scopes: Set<CredentialScope>, fingerprint: String)
        /// Rejected; the reason never contains a secret or an expected MAC.
        case rejected(String)
    }

    func verify(_ provider: WebhookProvider, headers: HTTPFields, body: [UInt8]) -> Outcome {
        let credentials = self.credentials[provider]
        switch provider {
        case .github:
            if let header = headers[.hubSignature256] {
                return Self.verifyPrefixedHMAC(header, prefix: "sha256=", body: body, keys: credentials.signingKeys, check: { Signatures.isValidHMACSHA256($0, body: $1, secret: $2) })
            }
            if credentials.allowSHA1, let header = headers[.hubSignature] {
                return Self.verifyPrefixedHMAC(header, prefix: "sha1=", body: body, keys: credentials.signingKeys, check: { Signatures.isValidHMACSHA1($0, body: $1, secret: $2) })
            }
            return .rejected("missing X-Hub-Signature-256 header")
        case .gitea:
            guard let header = headers[.giteaSignature] else { return .rejected("missing X-Gitea-Signature header") }
            return Self.verifyPrefixedHMAC(header, prefix: "", body: body, keys: credentials.signingKeys, check: { Signatures.isValidHMACSHA256($0, body: $1, secret: $2) })
        case .forgejo:
            guard let header = headers[.forgejoSignature] else { return .rejected("missing X-Forgejo-Signature header") }
            return Self.verifyPrefixedHMAC(header, prefix: "", body: body, keys: credentials.signingKeys, check: { Signatures.isValidHMACSHA256($0, body: $1, secret: $2) })
        case .bitbucket, .bitbucketServer:
            guard let header = headers[.hubSignature] else { return .rejected("missing X-Hub-Signature header") }
            return Self.verifyPrefixedHMAC(header, prefix: "sha256=", body: body, keys: credentials.signingKeys, check: { Signatures.isValidHMACSHA256($0, body: $1, secret: $2) })
        case .gitlab:
            if headers[.webhookSignature] != nil, !credentials.standardKeys.isEmpty {
                return self.verifyStandard(headers: headers, body: body, keys: credentials.standardKeys, tolerance: credentials.timestampTolerance)
            }
            guard let token = headers[.gitlabToken] else { return .rejected("missing X-Gitlab-Token header") }
            let scopes = Set(credentials.tokens.filter { Signatures.tokensAreEqual(token, $0.secret) }.map(\.scope))
            // The token is the same for every delivery of a hook: fingerprint the body instead.
            return scopes.isEmpty ? .rejected("invalid X-Gitlab-Token") : .verified(scopes: scopes, fingerprint: Self.fingerprint(body))
        case .standard:
            return self.verifyStandard(headers: headers, body: body, keys: credentials.signingKeys, tolerance: credentials.timestampTolerance)
        }
    }

    private func verifyStandard(headers: HTTPFields, body: [UInt8], keys: [WebhookCredentials.Candidate<SymmetricKey>], tolerance: Duration) -> Outcome {
        guard let id = headers[.webhookID], let timestamp = headers[.webhookTimestamp],
            let signature = headers[.webhookSignature]
        else {
            return .rejected("missing webhook-id, webhook-timestamp or webhook-signature header")
        }
        guard let seconds = Double(timestamp) else { return .rejected("malformed webhook-timestamp") }
        let age = abs(self.now().timeIntervalSince1970 - seconds)
        let toleranceSeconds = Double(tolerance.components.seconds)
        guard age <= toleranceSeconds else { return .rejected("webhook-timestamp outside the \(Int(toleranceSeconds))s tolerance") }
        let scopes = Set(
            keys.filter { Signatures.isValidStandardWebhook(id: id, timestamp: timestamp, signatureHeader: signature, body: body, secret: $0.secret) }.map(\.scope)
        )
        // Retries carry a new timestamp, hence a new signature: fingerprint the body, which stays the same.
        return scopes.isEmpty ? .rejected("invalid webhook-signature") : .verified(scopes: scopes, fingerprint: Self.fingerprint(body))
    }

    private static func verifyPrefixedHMAC(
        _ header: String,
        prefix: String,
        body: [UInt8],
        keys: [WebhookCredentials.Candidate<SymmetricKey>],
        check: ([UInt8], [UInt8], SymmetricKey) -> Bool
    ) -> Outcome {
        guard header.hasPrefix(prefix), let mac = Signatures.hexBytes(header.dropFirst(prefix.count)) else {
            return .rejected("malformed signature header")
        }
        let scopes = Set(keys.filter { check(mac, body, $0.secret) }.map(\.scope))
        return scopes.isEmpty ? .rejected("signature does not match") : .verified(scopes: scopes, fingerprint: Self.fingerprint(Array(header.utf8)))
    }

    private static func fingerprint(_ bytes: [UInt8]) -> String {
        Signatures.hex(SHA256.hash(data: bytes).prefix(16))
    }
}
