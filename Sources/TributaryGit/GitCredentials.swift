/// How to authenticate to a remote. Descriptions never include the secret parts.
public enum GitCredentials: Hashable, Sendable, CustomStringConvertible {
    /// Anonymous (`file://`, `git://`, public HTTPS).
    case none
    /// HTTP basic auth: a password, or a token (for GitHub/GitLab tokens the username is often ignored).
    case userPassword(username: String, password: String)
    /// SSH with a private key file.
    case sshKey(username: String, privateKeyPath: String, publicKeyPath: String?, passphrase: String?)

    public var description: String {
        switch self {
        case .none: "none"
        case .userPassword(let username, _): "user \(username) with password"
        case .sshKey(let username, let path, _, _): "ssh key \(path) as \(username)"
        }
    }
}

/// A repository to mirror: where it is, and how to log in.
public struct GitRemote: Hashable, Sendable {
    public var url: String
    public var credentials: GitCredentials
    /// The repository's identity, the same for every spelling of its URL (host and path,
    /// normalised); names its mirror. Nil: the mirror is named after the URL.
    public var key: String?

    public init(url: String, credentials: GitCredentials = .none, key: String? = nil) {
        self.url = url
        self.credentials = credentials
        self.key = key
    }
}

/// A change to one path between two commits.
public struct GitChange: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case added, modified, deleted, renamed, copied, typeChanged
    }

    public var kind: Kind
    /// The path before (equal to `path` unless renamed or copied).
    public var oldPath: String
    public var path: String

    public init(kind: Kind, oldPath: String, path: String) {
        self.kind = kind
        self.oldPath = oldPath
        self.path = path
    }
}

/// A file read from a commit's tree.
public struct GitFile: Hashable, Sendable {
    public enum Kind: Hashable, Sendable { case regular, executable, symlink }
    /// Path from the repository root, `/`-separated.
    public var path: String
    public var kind: Kind
    /// The blob's bytes; for a symlink, its target.
    public var contents: [UInt8]

    public init(path: String, kind: Kind, contents: [UInt8]) {
        self.path = path
        self.kind = kind
        self.contents = contents
    }
}

extension GitRemote {
    /// `text` with `user:password@` removed from any URL in it; safe to log.
    public static func redactingCredentials(_ text: String) -> String {
        GitError.redactingCredentials(text)
    }
}

extension Collection<GitChange> {
    /// Whether any change is under `directory` (the repository root for "" or ".").
    public func touch(directory: String) -> Bool {
        let trimmed = directory.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
        let prefix = trimmed.isEmpty ? "" : trimmed + "/"
        return self.contains { $0.path.hasPrefix(prefix) || $0.oldPath.hasPrefix(prefix) }
    }
}

/// Whether `text` is a full commit id (40 hex digits).
public func isCommitID(_ text: String) -> Bool {
    text.count == 40 && text.allSatisfy(\.isHexDigit)
}
