import Foundation

/// The normalised identity of a Git repository: `host/path`, lower case, without scheme, user,
/// port or `.git` — so the HTTPS and SSH URLs of one repository share a key (and a partition).
public struct RepositoryKey: Hashable, Sendable, CustomStringConvertible, Codable {
    public let rawValue: String

    /// Normalises a clone URL or a key: `https://user@Host:8443/Org/Repo.git`, `git@host:org/repo.git`,
    /// `ssh://git@host:7999/org/repo`, `host/org/repo` all work.
    ///
    /// Local repositories — `file://` URLs and paths starting with `/`, `./` or `../`, as used in
    /// development — get the key `local/<path>`.
    ///
    /// - Returns: `nil` when no host and path can be found.
    public init?(url: String) {
        // Plain Swift rather than Foundation's trimming and searching: the listener runs this on
        // every URL of every webhook.
        var trimmed = Substring(url)
        while trimmed.first?.isWhitespace == true { trimmed = trimmed.dropFirst() }
        while trimmed.last?.isWhitespace == true { trimmed = trimmed.dropLast() }
        if let local = Self.localKey(trimmed) {
            self.rawValue = local
            return
        }
        var rest = trimmed
        if let query = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<query] }
        var scpLike = false
        if let colon = rest.firstIndex(of: ":"), rest[colon...].hasPrefix("://") {
            rest = rest[rest.index(colon, offsetBy: 3)...]
        } else if let colon = rest.firstIndex(of: ":"), !rest[..<colon].contains("/") {
            // scp-like `user@host:path`: the colon separates host and path — unless digits and a
            // slash follow, which is `host:port/path` written without a scheme.
            let afterColon = rest[rest.index(after: colon)...]
            let digits = afterColon.prefix { $0.isNumber }
            scpLike = digits.isEmpty || afterColon.dropFirst(digits.count).first != "/"
        }
        let authorityEnd = scpLike ? rest.firstIndex(of: ":")! : (rest.firstIndex(of: "/") ?? rest.endIndex)
        var authority = rest[..<authorityEnd]
        var path = rest[authorityEnd...].dropFirst()
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        if !scpLike, let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") { authority = authority[..<colon] }
        while path.hasSuffix("/") { path = path.dropLast() }
        if path.hasSuffix(".git") { path = path.dropLast(4) }
        while path.hasPrefix("/") { path = path.dropFirst() }
        guard !authority.isEmpty, !path.isEmpty else { return nil }
        self.rawValue = "\(authority)/\(path)".lowercased()
    }

    private static func localKey(_ url: Substring) -> String? {
        guard url.hasPrefix("file://") || url.hasPrefix("/") || url.hasPrefix("./") || url.hasPrefix("../") else { return nil }
        var path = url.hasPrefix("file://") ? url.dropFirst(7) : url
        while path.hasSuffix("/") { path = path.dropLast() }
        if path.hasSuffix(".git") { path = path.dropLast(4) }
        while path.hasPrefix("./") { path = path.dropFirst(2) }
        while path.hasPrefix("/") { path = path.dropFirst() }
        return path.isEmpty ? nil : "local/\(path)".lowercased()
    }

    public var description: String { self.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let key = RepositoryKey(url: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a repository: \(text)"))
        }
        self = key
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.rawValue)
    }
}
