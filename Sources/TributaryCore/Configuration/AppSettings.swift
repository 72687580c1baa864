import Foundation

/// `repositories[]`: where a repository is and how to log in to it.
public struct RepositorySettings: Sendable {
    /// `url`: clone URL (https, ssh, git, file).
    public var url: String
    /// `auth.username`; with `password` for HTTP basic auth or a token.
    public var username: String?
    /// `auth.password`: password or token, as a secret reference.
    public var password: SecretReference?
    /// `auth.sshKey`: private key, as a secret reference (normally `{ file: ... }`).
    public var sshKey: SecretReference?

    init(node: ConfigurationNode) throws {
        let mapping = try node.mapping(allowedKeys: ["url", "auth"])
        self.url = try mapping.required("url").string()
        guard RepositoryKey(url: self.url) != nil else {
            throw try mapping.required("url").error("not a repository URL")
        }
        if let auth = mapping["auth"] {
            let fields = try auth.mapping(allowedKeys: ["username", "password", "sshKey"])
            self.username = try fields["username"]?.string()
            self.password = try fields["password"]?.secretReference()
            self.sshKey = try fields["sshKey"]?.secretReference()
            if self.password != nil, self.sshKey != nil {
                throw auth.error("give either password or sshKey, not both")
            }
        }
    }
}

/// `projects[]`: which sources and destinations apps of the project may use (globs).
public struct ProjectSettings: Sendable {
    public var name: String
    /// `sourceRepos`: repository URL globs. Default: none allowed.
    public var sourceRepos: [Glob] = []
    /// `destinations`: `directory:/path/*` or `git:url` globs. Default: none allowed.
    public var destinations: [Glob] = []

    /// The implicit `default` project, as in Argo CD: everything allowed.
    public static let implicitDefault = ProjectSettings(name: "default", sourceRepos: [Glob("**")], destinations: [Glob("**")])

    init(name: String, sourceRepos: [Glob], destinations: [Glob]) {
        self.name = name
        self.sourceRepos = sourceRepos
        self.destinations = destinations
    }

    init(node: ConfigurationNode) throws {
        let mapping = try node.mapping(allowedKeys: ["name", "sourceRepos", "destinations"])
        self.name = try mapping.required("name").string()
        self.sourceRepos = try mapping["sourceRepos"]?.stringList().map(Glob.init) ?? []
        self.destinations = try mapping["destinations"]?.stringList().map(Glob.init) ?? []
    }
}

/// `apps[]`: one application — a path in a repository synced to a destination.
public struct AppSettings: Sendable {
    public var name: String
    /// `project`. Default `default`.
    public var project: String = "default"
    public var source: Source
    public var destination: Destination
    /// `destination.name`: the cluster (worker group) that syncs the app, as in Argo CD; nil for
    /// the default group (workers started without `--cluster`).
    public var cluster: String?
    public var syncPolicy: SyncPolicy = .init()
    /// The file and line the app was declared at, for messages.
    public var file: String
    public var line: Int?
    public var declaredAt: String { "\(self.file):\(self.line ?? 0)" }

    public struct Source: Sendable {
        /// `repoURL`.
        public var repoURL: String
        /// `targetRevision`: branch, tag or SHA. Default `HEAD` (the remote's default branch).
        public var targetRevision: String = "HEAD"
        /// `path`: directory within the repository. Default the root.
        public var path: String = ""
        /// `directory.recurse`. Default false.
        public var recurse: Bool = false
        /// `substitute`: values for `${VAR}` in the manifests. Default none.
        public var substitute: [String: String] = [:]
    }

    public enum Destination: Sendable, CustomStringConvertible {
        /// `{ directory: PATH }`.
        case directory(String)
        /// `{ git: { repoURL, branch, path } }`: a rendered-manifests branch.
        case git(repoURL: String, branch: String, path: String)

        /// The string projects' `destinations` globs match: `directory:/path` or `git:url`.
        public var description: String {
            switch self {
            case .directory(let path): "directory:\(path)"
            case .git(let url, let branch, _): "git:\(url)#\(branch)"
            }
        }
    }

    public struct SyncPolicy: Sendable {
        /// `automated`: sync on changes; nil for manual. Default automated without prune or self-heal.
        public var automated: Automated? = Automated()
        /// `retry` with Argo CD's defaults: 5 attempts, 5 s, ×2, at most 3 min.
        public var retry = Retry()
        /// `interval`: periodic reconcile. Default 3 min.
        public var interval: Duration = .seconds(180)

        public struct Automated: Sendable {
            public var prune = false
            public var selfHeal = false
        }

        public struct Retry: Sendable {
            public var limit = 5
            public var duration: Duration = .seconds(5)
            public var factor = 2.0
            public var maxDuration: Duration = .seconds(180)
        }
    }

    init(node: ConfigurationNode) throws {
        let mapping = try node.mapping(allowedKeys: ["name", "project", "source", "destination", "syncPolicy"])
        self.file = node.file
        self.line = node.line
        self.name = try mapping.required("name").string()
        guard self.name.range(of: "^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$", options: .regularExpression) != nil else {
            throw try mapping.required("name").error("app names are lower-case letters, digits, '-' and '.', at most 63 characters")
        }
        if let project = mapping["project"] { self.project = try project.string() }

        let source = try mapping.required("source").mapping(allowedKeys: ["repoURL", "targetRevision", "path", "directory", "substitute"])
        self.source = Source(repoURL: try source.required("repoURL").string())
        if let value = source["targetRevision"] { self.source.targetRevision = try value.string() }
        if let value = source["path"] {
            let path = try value.string()
            guard !path.split(separator: "/").contains("..") else { throw value.error("the path may not leave the repository") }
            self.source.path = path
        }
        if let directory = source["directory"] {
            let fields = try directory.mapping(allowedKeys: ["recurse"])
            if let recurse = fields["recurse"] { self.source.recurse = try recurse.bool() }
        }
        if let substitute = source["substitute"] {
            for (key, value) in try substitute.mapping(allowedKeys: nil).entries {
                self.source.substitute[key] = try value.string()
            }
        }

        let destinationNode = try mapping.required("destination")
        let destination = try destinationNode.mapping(allowedKeys: ["name", "directory", "git"])
        if let value = destination["name"] {
            let name = try value.string()
            // It names a topic (`<prefix>.requests.<name>`) and a consumer group.
            guard name.range(of: "^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$", options: .regularExpression) != nil else {
                throw value.error("cluster names are lower-case letters, digits, '-' and '.', at most 63 characters")
            }
            self.cluster = name
        }
        switch (destination["directory"], destination["git"]) {
        case (let directory?, nil):
            self.destination = .directory(try directory.string())
        case (nil, let git?):
            let fields = try git.mapping(allowedKeys: ["repoURL", "branch", "path"])
            self.destination = .git(
                repoURL: try fields.required("repoURL").string(),
                branch: try fields.required("branch").string(),
                path: try fields["path"]?.string() ?? "."
            )
        default:
            throw destinationNode.error("a destination is exactly one of { directory: PATH } or { git: { repoURL, branch, path } }, optionally with name: CLUSTER")
        }

        if let policyNode = mapping["syncPolicy"] {
            let policy = try policyNode.mapping(allowedKeys: ["automated", "retry", "interval"])
            if let automatedNode = policy["automated"] {
                let automated = try automatedNode.mapping(allowedKeys: ["prune", "selfHeal"])
                self.syncPolicy.automated = .init(
                    prune: try automated["prune"]?.bool() ?? false,
                    selfHeal: try automated["selfHeal"]?.bool() ?? false
                )
            } else {
                self.syncPolicy.automated = nil
            }
            if let retryNode = policy["retry"] {
                let retry = try retryNode.mapping(allowedKeys: ["limit", "backoff"])
                if let limit = retry["limit"] { self.syncPolicy.retry.limit = try limit.int(in: 0...100) }
                if let backoffNode = retry["backoff"] {
                    let backoff = try backoffNode.mapping(allowedKeys: ["duration", "factor", "maxDuration"])
                    if let value = backoff["duration"] { self.syncPolicy.retry.duration = try value.duration() }
                    if let value = backoff["factor"] {
                        guard let factor = Double(try value.string()), factor >= 1 else { throw value.error("factor must be a number of at least 1") }
                        self.syncPolicy.retry.factor = factor
                    }
                    if let value = backoff["maxDuration"] { self.syncPolicy.retry.maxDuration = try value.duration() }
                }
            }
            if let interval = policy["interval"] { self.syncPolicy.interval = try interval.duration() }
        }
    }
}
