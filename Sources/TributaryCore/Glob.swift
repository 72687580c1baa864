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

    /// A glob as Argo CD's AppProject reads it: `*` matches anything, `/` included, so
    /// `sourceRepos: ["*"]` allows every repository and `https://git.example.com/acme/*` every
    /// repository under it. `pattern` keeps what was written.
    public static func project(_ pattern: String) -> Glob {
        var glob = Glob(pattern.replacingOccurrences(of: "**", with: "*").replacingOccurrences(of: "*", with: "**"))
        glob.pattern = pattern
        return glob
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
