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

/// A commit's file lists, as GitHub, Gitea and GitLab send them.
struct PayloadCommit {
    var added: [String]?
    var removed: [String]?
    var modified: [String]?

    init(_ json: JSONValue) throws {
        self.added = try json.optionalStrings("added")
        self.removed = try json.optionalStrings("removed")
        self.modified = try json.optionalStrings("modified")
    }
}

extension ChangeEvent.ChangedPaths {
    /// Merges the commits' lists: sorted, without repeats.
    init(commits: [PayloadCommit], complete: Bool) {
        // Plain loops, sort, then drop neighbours: hashing every path into a Set, or sorting a lazy
        // joined sequence, cost several times more on a push with many commits.
        func union(_ list: (PayloadCommit) -> [String]?) -> [String] {
            var paths: [String] = []
            for commit in commits {
                if let listed = list(commit) { paths.append(contentsOf: listed) }
            }
            paths.sort()
            var unique: [String] = []
            unique.reserveCapacity(paths.count)
            for path in paths where path != unique.last { unique.append(path) }
            return unique
        }
        self.init(added: union { $0.added }, modified: union { $0.modified }, removed: union { $0.removed }, complete: complete)
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
