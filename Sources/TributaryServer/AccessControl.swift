import Crypto
import Foundation
import TributaryCore

/// Who a request is, from its bearer token: its role and the projects it sees.
public struct Principal: Sendable {
    public var name: String?
    public var role: ServerSettings.Token.Role
    public var projects: [Glob]

    public func sees(project: String) -> Bool { self.projects.contains { $0.matches(project) } }
    public var mayOperate: Bool { self.role == .operator }

    /// Development only (`allowUnauthenticated`): everything.
    static let unauthenticated = Principal(name: "unauthenticated", role: .operator, projects: [Glob("**")])
}

/// The server's bearer tokens, resolved once; requests are matched by the token's SHA-256 digest
/// (a constant-time comparison), and no token is ever logged or echoed.
public struct AccessControl: Sendable {
    private let tokens: [(digest: SHA256.Digest, principal: Principal)]
    private let allowUnauthenticated: Bool

    /// - Throws: `SecretError` for a token that cannot be resolved, naming its source only.
    public init(settings: ServerSettings) throws {
        self.tokens = try settings.tokens.map { token in
            (SHA256.hash(data: Data(try token.token.resolve().utf8)), Principal(name: token.name, role: token.role, projects: token.projects))
        }
        self.allowUnauthenticated = settings.allowUnauthenticated
    }

    /// The principal of an `Authorization` header; nil when it names none.
    public func principal(authorization: String?) -> Principal? {
        guard let authorization else { return self.allowUnauthenticated ? .unauthenticated : nil }
        guard authorization.count > 7, authorization.prefix(7).lowercased() == "bearer " else { return nil }
        let digest = SHA256.hash(data: Data(authorization.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8))
        var found: Principal?
        // Every token is compared, so the time taken does not tell which one came close.
        for token in self.tokens where token.digest == digest { found = token.principal }
        return found
    }
}
