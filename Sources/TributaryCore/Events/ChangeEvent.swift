import Foundation

/// A push to a repository, as the listener verified it: the data of a `dev.tributary.git.push`
/// CloudEvent on `<prefix>.changes`, keyed by `repository.key`.
public struct ChangeEvent: Codable, Hashable, Sendable {
    /// The CloudEvents type of change events.
    public static let eventType = "dev.tributary.git.push"

    /// Which Git host sent the webhook: `github`, `gitlab`, `gitea`, `forgejo`, `bitbucket`,
    /// `bitbucket-server` or `standard`.
    public var provider: String
    /// The host's delivery id (`X-GitHub-Delivery`, `X-Gitlab-Event-UUID`, ...).
    public var deliveryID: String
    /// The host's webhook id, when it sends one.
    public var hookID: String?
    public var repository: Repository
    /// The full ref: `refs/heads/main`, `refs/tags/v1.2.0`.
    public var ref: String
    /// The ref's previous commit (all zeros when created).
    public var before: String
    /// The ref's new commit (all zeros when deleted).
    public var after: String
    public var created: Bool
    public var deleted: Bool
    public var forced: Bool
    /// Who pushed, as the host names them.
    public var pusher: String?
    /// Paths the payload lists as changed. Hints only: hosts truncate them (GitLab lists at most 20
    /// commits, Bitbucket Server none); workers diff the trees themselves.
    public var changedPathHints: ChangedPaths?
    /// When the listener received the webhook.
    public var receivedAt: Date

    public init(
        provider: String,
        deliveryID: String,
        hookID: String? = nil,
        repository: Repository,
        ref: String,
        before: String,
        after: String,
        created: Bool = false,
        deleted: Bool = false,
        forced: Bool = false,
        pusher: String? = nil,
        changedPathHints: ChangedPaths? = nil,
        receivedAt: Date = Date()
    ) {
        self.provider = provider
        self.deliveryID = deliveryID
        self.hookID = hookID
        self.repository = repository
        self.ref = ref
        self.before = before
        self.after = after
        self.created = created
        self.deleted = deleted
        self.forced = forced
        self.pusher = pusher
        self.changedPathHints = changedPathHints
        self.receivedAt = receivedAt
    }

    /// The repository a change is about.
    public struct Repository: Codable, Hashable, Sendable {
        /// Normalised key, `host/owner/name`: lower-cased host, no scheme, user, port or `.git`.
        public var key: String
        /// Clone URLs the payload offers (HTTPS, SSH, ...).
        public var cloneURLs: [String]
        /// The repository's web page, when the payload has one.
        public var webURL: String?

        public init(key: String, cloneURLs: [String], webURL: String? = nil) {
            self.key = key
            self.cloneURLs = cloneURLs
            self.webURL = webURL
        }
    }

    /// Changed paths as listed by the payload's commits.
    public struct ChangedPaths: Codable, Hashable, Sendable {
        public var added: [String]
        public var modified: [String]
        public var removed: [String]
        /// False when the host is known to have truncated the lists.
        public var complete: Bool

        public init(added: [String] = [], modified: [String] = [], removed: [String] = [], complete: Bool) {
            self.added = added
            self.modified = modified
            self.removed = removed
            self.complete = complete
        }
    }
}

extension ChangeEvent {
    /// The event as `TributaryJSON.encode` writes it, without `JSONEncoder`: the listener encodes one
    /// per webhook. Keys in sorted order; `nil` properties are left out, as the synthesised
    /// `Encodable` conformance does. A test compares the two encodings.
    public var jsonBytes: [UInt8] {
        // Sized for the paths up front: growing a buffer of several KB costs more than writing it.
        let pathBytes = self.changedPathHints.map { hints in
            [hints.added, hints.modified, hints.removed].reduce(0) { total, paths in paths.reduce(total) { $0 + $1.utf8.count + 3 } }
        }
        var json = JSONWriter(capacity: 768 + (pathBytes ?? 0))
        json.beginObject()
        json.key("after")
        json.string(self.after)
        json.key("before")
        json.string(self.before)
        if let hints = self.changedPathHints {
            json.key("changedPathHints")
            json.beginObject()
            json.key("added")
            json.strings(hints.added)
            json.key("complete")
            json.bool(hints.complete)
            json.key("modified")
            json.strings(hints.modified)
            json.key("removed")
            json.strings(hints.removed)
            json.endObject()
        }
        json.key("created")
        json.bool(self.created)
        json.key("deleted")
        json.bool(self.deleted)
        json.key("deliveryID")
        json.string(self.deliveryID)
        json.key("forced")
        json.bool(self.forced)
        if let hookID = self.hookID {
            json.key("hookID")
            json.string(hookID)
        }
        json.key("provider")
        json.string(self.provider)
        if let pusher = self.pusher {
            json.key("pusher")
            json.string(pusher)
        }
        json.key("receivedAt")
        json.string(RFC3339.format(self.receivedAt))
        json.key("ref")
        json.string(self.ref)
        json.key("repository")
        json.beginObject()
        json.key("cloneURLs")
        json.strings(self.repository.cloneURLs)
        json.key("key")
        json.string(self.repository.key)
        if let webURL = self.repository.webURL {
            json.key("webURL")
            json.string(webURL)
        }
        json.endObject()
        json.endObject()
        return json.bytes
    }
}
