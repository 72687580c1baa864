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
        // Byte-level searches rather than Foundation's or Character's: the listener runs this on every
        // URL of every webhook. The separators are ASCII, so UTF-8 indices are valid cut points.
        var trimmed = Substring(url)
        while trimmed.first?.isWhitespace == true { trimmed = trimmed.dropFirst() }
        while trimmed.last?.isWhitespace == true { trimmed = trimmed.dropLast() }
        if let local = Self.localKey(trimmed) {
            self.rawValue = local
            return
        }
        var rest = trimmed
        if let query = rest.utf8.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) { rest = rest[..<query] }
        var scpLike = false
        if let colon = rest.utf8.firstIndex(of: UInt8(ascii: ":")), rest[colon...].hasPrefix("://") {
            rest = rest[rest.utf8.index(colon, offsetBy: 3)...]
        } else if let colon = rest.utf8.firstIndex(of: UInt8(ascii: ":")), !rest[..<colon].utf8.contains(UInt8(ascii: "/")) {
            // scp-like `user@host:path`: the colon separates host and path — unless digits and a
            // slash follow, which is `host:port/path` written without a scheme.
            let afterColon = rest[rest.utf8.index(after: colon)...].utf8
            let digits = afterColon.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }.count
            scpLike = digits == 0 || afterColon.dropFirst(digits).first != UInt8(ascii: "/")
        }
        let authorityEnd = scpLike ? rest.utf8.firstIndex(of: UInt8(ascii: ":"))! : (rest.utf8.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex)
        var authority = rest[..<authorityEnd]
        var path = rest[authorityEnd...].dropFirst()
        if let at = authority.utf8.lastIndex(of: UInt8(ascii: "@")) { authority = authority[authority.utf8.index(after: at)...] }
        if !scpLike, let colon = authority.utf8.lastIndex(of: UInt8(ascii: ":")), !authority.hasSuffix("]") { authority = authority[..<colon] }
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
