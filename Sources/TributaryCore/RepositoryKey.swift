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
        // On UTF-8 bytes rather than Characters or Foundation: the listener runs this on every URL of
        // every webhook. Every separator is ASCII, so cutting the bytes never splits a character.
        let bytes = Array(url.utf8)
        var text = bytes[...]
        while let first = text.first, Self.isSpace(first) { text = text.dropFirst() }
        while let last = text.last, Self.isSpace(last) { text = text.dropLast() }
        if text.starts(with: "file://".utf8) || text.starts(with: "/".utf8) || text.starts(with: "./".utf8) || text.starts(with: "../".utf8) {
            guard let local = Self.localKey(text) else { return nil }
            self.rawValue = local
            return
        }
        if let query = text.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) { text = text[..<query] }
        var scpLike = false
        if let colon = text.firstIndex(of: UInt8(ascii: ":")), text[colon...].starts(with: "://".utf8) {
            text = text[(colon + 3)...]
        } else if let colon = text.firstIndex(of: UInt8(ascii: ":")), !text[..<colon].contains(UInt8(ascii: "/")) {
            // scp-like `user@host:path`: the colon separates host and path — unless digits and a
            // slash follow, which is `host:port/path` written without a scheme.
            let afterColon = text[(colon + 1)...]
            let digits = afterColon.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }.count
            scpLike = digits == 0 || afterColon.dropFirst(digits).first != UInt8(ascii: "/")
        }
        let authorityEnd = scpLike ? text.firstIndex(of: UInt8(ascii: ":"))! : (text.firstIndex(of: UInt8(ascii: "/")) ?? text.endIndex)
        var authority = text[..<authorityEnd]
        var path = text[authorityEnd...].dropFirst()
        if let at = authority.lastIndex(of: UInt8(ascii: "@")) { authority = authority[(at + 1)...] }
        if !scpLike, let colon = authority.lastIndex(of: UInt8(ascii: ":")), authority.last != UInt8(ascii: "]") { authority = authority[..<colon] }
        path = Self.withoutGitSuffix(path)
        while path.first == UInt8(ascii: "/") { path = path.dropFirst() }
        guard !authority.isEmpty, !path.isEmpty else { return nil }
        self.rawValue = Self.lowercased(authority + [UInt8(ascii: "/")] + path)
    }

    /// `local/<path>` for `file://` URLs and `/`, `./`, `../` paths.
    private static func localKey(_ url: ArraySlice<UInt8>) -> String? {
        var path = Self.withoutGitSuffix(url.starts(with: "file://".utf8) ? url.dropFirst(7) : url)
        while path.starts(with: "./".utf8) { path = path.dropFirst(2) }
        while path.first == UInt8(ascii: "/") { path = path.dropFirst() }
        return path.isEmpty ? nil : Self.lowercased(Array("local/".utf8) + path)
    }

    /// Without trailing slashes and then one `.git`.
    private static func withoutGitSuffix(_ path: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var path = path
        while path.last == UInt8(ascii: "/") { path = path.dropLast() }
        if path.count >= 4, path.suffix(4).elementsEqual(".git".utf8) { path = path.dropLast(4) }
        return path
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || (0x09...0x0D).contains(byte)
    }

    private static func lowercased(_ bytes: [UInt8]) -> String {
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return String(decoding: bytes, as: UTF8.self).lowercased() }
        return String(decoding: bytes.map { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
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
