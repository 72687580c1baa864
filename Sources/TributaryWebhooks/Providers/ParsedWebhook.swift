import TributaryCore

/// What a verified delivery turned out to be.
enum ParsedWebhook: Equatable {
    /// A connectivity check: answered 200, nothing published.
    case ping
    /// An event Tributary does not act on: answered 202 with the reason, nothing published.
    case ignored(String)
    /// One change per ref the push moved (Bitbucket pushes can move several).
    case pushes([ParsedPush])
}

/// A ref update as the payload describes it, before the listener adds delivery metadata.
struct ParsedPush: Equatable {
    var repository: ChangeEvent.Repository
    var ref: String
    var before: String
    var after: String
    var created: Bool
    var deleted: Bool
    var forced: Bool
    var pusher: String?
    var changedPathHints: ChangeEvent.ChangedPaths?

    init(
        repository: ChangeEvent.Repository,
        ref: String,
        before: String?,
        after: String?,
        created: Bool? = nil,
        deleted: Bool? = nil,
        forced: Bool = false,
        pusher: String?,
        changedPathHints: ChangeEvent.ChangedPaths?
    ) {
        let before = before ?? Self.zeroRevision
        let after = after ?? Self.zeroRevision
        self.repository = repository
        self.ref = ref
        self.before = before
        self.after = after
        self.created = created ?? Self.isZero(before)
        self.deleted = deleted ?? Self.isZero(after)
        self.forced = forced
        self.pusher = pusher
        self.changedPathHints = changedPathHints
    }

    static let zeroRevision = String(repeating: "0", count: 40)

    static func isZero(_ revision: String) -> Bool {
        !revision.isEmpty && revision.allSatisfy { $0 == "0" }
    }
}

/// A body that verified but cannot be understood: answered 400.
struct MalformedPayload: Error, CustomStringConvertible {
    var reason: String
    var description: String { self.reason }
}

/// The file lists of a payload's commits (GitHub, Gitea, Forgejo and GitLab send them), gathered
/// while the commits are read so no per-commit arrays are built.
struct PayloadCommits {
    /// How many commits the payload lists.
    private(set) var count = 0
    private var added: [String] = []
    private var modified: [String] = []
    private var removed: [String] = []

    /// Reads the `commits` array; `nil` or absent is no commits.
    init(_ json: JSONValue?) throws {
        guard let json else { return }
        for commit in try json.elements() {
            self.count += 1
            try commit.appendStrings("added", to: &self.added)
            try commit.appendStrings("modified", to: &self.modified)
            try commit.appendStrings("removed", to: &self.removed)
        }
    }

    /// The merged lists, each path once, in the order the commits list them.
    func changedPaths(complete: Bool) -> ChangeEvent.ChangedPaths {
        // First sighting wins; hashing each path costs about half of sorting the lists.
        func unique(_ paths: [String]) -> [String] {
            var seen = Set<String>(minimumCapacity: paths.count)
            return paths.filter { seen.insert($0).inserted }
        }
        return ChangeEvent.ChangedPaths(added: unique(self.added), modified: unique(self.modified), removed: unique(self.removed), complete: complete)
    }
}

extension ChangeEvent.Repository {
    /// A repository from the URLs a payload offers; the key comes from the first that parses.
    init(urls: [String?], webURL: String?) throws {
        let cloneURLs = urls.compactMap { $0 }.filter { !$0.isEmpty }
        let keys = cloneURLs.map(RepositoryKey.init(url:))
        guard let key = keys.lazy.compactMap({ $0 }).first ?? webURL.flatMap(RepositoryKey.init(url:)) else {
            throw MalformedPayload(reason: "payload names no repository URL")
        }
        // Only URLs of that same repository: a payload cannot smuggle in another repository's URL.
        var unique: [String] = []
        for (url, urlKey) in zip(cloneURLs, keys) where urlKey == key && !unique.contains(url) { unique.append(url) }
        self.init(key: key.rawValue, cloneURLs: unique, webURL: webURL)
    }
}
