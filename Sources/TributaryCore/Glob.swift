/// A shell-style pattern over `/`-separated names: `*` matches within one segment, `**` across
/// segments, `?` one character. Used for repository keys, source URLs and destinations.
public struct Glob: Hashable, Sendable, CustomStringConvertible {
    public private(set) var pattern: String
    private let characters: [Character]

    public init(_ pattern: String) {
        self.pattern = pattern
        self.characters = Array(pattern)
    }

    public var description: String { self.pattern }

    /// Written with a leading `!`: an AppProject deny pattern. `matches` tests the glob after it;
    /// `projectMatches` is Argo CD's reading.
    public private(set) var isDenial = false

    /// A destination or resource-kind pattern as Argo CD's AppProject reads it: `*` matches
    /// anything, `/` included; a leading `!` denies. `pattern` keeps what was written.
    public static func project(_ pattern: String) -> Glob {
        let denial = pattern.hasPrefix("!")
        let body = denial ? String(pattern.dropFirst()) : pattern
        var glob = Glob(body.replacingOccurrences(of: "**", with: "*").replacingOccurrences(of: "*", with: "**"))
        glob.pattern = pattern
        glob.isDenial = denial
        return glob
    }

    /// A `sourceRepos` pattern as Argo CD reads it: `*` stays within a path segment,
    /// `**` crosses them, and `*` alone allows every repository; a leading `!` denies.
    public static func sourceRepository(_ pattern: String) -> Glob {
        let denial = pattern.hasPrefix("!")
        let body = Self.normalizedRepositoryURL(denial ? String(pattern.dropFirst()) : pattern)
        var glob = Glob(body == "*" ? "**" : body)
        glob.pattern = pattern
        glob.isDenial = denial
        return glob
    }

    /// A repository URL as Argo CD's `NormalizeGitURL` compares it: lower-cased, without a
    /// trailing `/` or `.git`.
    public static func normalizedRepositoryURL(_ url: String) -> String {
        var url = url.lowercased()
        while url.hasSuffix("/") { url.removeLast() }
        if url.hasSuffix(".git") { url.removeLast(4) }
        return url
    }

    /// Argo CD's `globMatch` with negation: a denial matches what its glob does not.
    public func projectMatches(_ text: String) -> Bool {
        self.isDenial ? !self.matches(text) : self.matches(text)
    }

    /// Whether `text` matches the whole pattern.
    public func matches(_ text: String) -> Bool {
        Self.match(self.characters[...], Array(text)[...])
    }

    private static func match(_ pattern: ArraySlice<Character>, _ text: ArraySlice<Character>) -> Bool {
        guard let first = pattern.first else { return text.isEmpty }
        if first == "*" {
            let doubleStar = pattern.dropFirst().first == "*"
            let rest = pattern.dropFirst(doubleStar ? 2 : 1)
            var candidate = text
            while true {
                if self.match(rest, candidate) { return true }
                guard let next = candidate.first, doubleStar || next != "/" else { return false }
                candidate = candidate.dropFirst()
            }
        }
        guard let character = text.first else { return false }
        guard first == "?" ? character != "/" : first == character else { return false }
        return self.match(pattern.dropFirst(), text.dropFirst())
    }
}
