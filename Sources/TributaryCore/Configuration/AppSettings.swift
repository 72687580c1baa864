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

/// `projects[]`: which sources and destinations apps of the project may use, read as Argo CD reads
/// an AppProject: in `sourceRepos` `*` stays within a path segment (`*` alone allows everything),
/// in destinations it matches anything; a pattern written `!…` denies what it matches.
public struct ProjectSettings: Sendable {
    public var name: String
    /// `sourceRepos`: repository URL globs. Default: none allowed.
    public var sourceRepos: [Glob] = []
    /// `destinations`: `directory:/path/*`, `git:url` or `kubernetes:CLUSTER/NAMESPACE` globs,
    /// or Argo CD's `{ name, namespace, server }` entries whose globs match a cluster's name (or
    /// server URL) and the namespace. Default: none allowed.
    public var destinations: [Glob] = []
    public var clusterDestinations: [ClusterDestination] = []

    /// An AppProject `destinations` entry; an absent field matches anything.
    public struct ClusterDestination: Sendable {
        public var name: Glob?
        public var server: Glob?
        public var namespace: Glob?

        /// Whether this entry allows the cluster (`name` at `server`) and namespace; a denial
        /// allows what it does not deny.
        public func allows(name clusterName: String, server clusterServer: String?, namespace targetNamespace: String) -> Bool {
            self.clusterMatched(name: clusterName, server: clusterServer) && (self.namespace?.projectMatches(targetNamespace) ?? true)
        }

        /// Whether this entry's denials name the cluster or the namespace.
        func denies(name clusterName: String, server clusterServer: String?, namespace targetNamespace: String) -> Bool {
            (self.name?.isDenial == true && self.name?.matches(clusterName) == true)
                || (self.server?.isDenial == true && clusterServer.map { self.server?.matches($0) == true } == true)
                || (self.namespace?.isDenial == true && self.namespace?.matches(targetNamespace) == true)
        }

        /// An entry naming neither name nor server matches every cluster.
        private func clusterMatched(name clusterName: String, server clusterServer: String?) -> Bool {
            if self.name == nil && self.server == nil { return true }
            return self.name?.projectMatches(clusterName) == true || (clusterServer.map { self.server?.projectMatches($0) == true } ?? false)
        }
    }

    /// Argo CD's `IsSourcePermitted`: some pattern matches the repository (a denial matches every
    /// repository it does not deny) and no denial names it. URLs compare as Argo CD normalizes them:
    /// case, a trailing `/` and `.git` do not matter.
    public func allowsSource(_ url: String) -> Bool {
        let url = Glob.normalizedRepositoryURL(url)
        var matched = false
        for glob in self.sourceRepos {
            if glob.projectMatches(url) { matched = true } else if glob.isDenial { return false }
        }
        return matched
    }

    /// Whether the destination is allowed: a denial in either `destinations` form refuses it, then
    /// a plain glob matching one of `forms` or a `{ name, server, namespace }` entry allows it.
    public func allows(destination forms: [String], cluster: (name: String, server: String?, namespace: String)?) -> Bool {
        if self.destinations.contains(where: { $0.isDenial && forms.contains(where: $0.matches) }) { return false }
        if let cluster, self.clusterDestinations.contains(where: { $0.denies(name: cluster.name, server: cluster.server, namespace: cluster.namespace) }) { return false }
        if self.allowsDestination(forms) { return true }
        guard let cluster else { return false }
        return self.allowsCluster(name: cluster.name, server: cluster.server, namespace: cluster.namespace)
    }

    /// A `directory:…`, `git:…` or `kubernetes:…` destination, by the plain `destinations` globs:
    /// allowed when one matches any of its `forms` and no denial names one.
    public func allowsDestination(_ forms: [String]) -> Bool {
        var matched = false
        for glob in self.destinations {
            if glob.isDenial && forms.contains(where: glob.matches) { return false }
            if forms.contains(where: glob.projectMatches) { matched = true }
        }
        return matched
    }

    /// Argo CD's `isDestinationMatched` over the `{ name, server, namespace }` entries: one allows
    /// the cluster and namespace, and no entry's denial names either.
    public func allowsCluster(name: String, server: String?, namespace: String) -> Bool {
        var matched = false
        for entry in self.clusterDestinations {
            if entry.allows(name: name, server: server, namespace: namespace) {
                matched = true
            } else if entry.denies(name: name, server: server, namespace: namespace) {
                return false
            }
        }
        return matched
    }

    /// `clusterResourceWhitelist`: the cluster-scoped kinds apps may render; nil: every one.
    /// An empty list allows none — Argo CD's default for an AppProject, which `definitions` keep.
    public var clusterResourceWhitelist: [ResourceKind]?
    /// `clusterResourceBlacklist`: cluster-scoped kinds refused. Default none.
    public var clusterResourceBlacklist: [ResourceKind] = []
    /// `namespaceResourceWhitelist`: the namespaced kinds apps may render; nil: every one.
    public var namespaceResourceWhitelist: [ResourceKind]?
    /// `namespaceResourceBlacklist`: namespaced kinds refused. Default none.
    public var namespaceResourceBlacklist: [ResourceKind] = []

    /// `{ group, kind }` of an allow or deny list, globs (`*`: any; group `''`: the core group).
    public struct ResourceKind: Sendable {
        public var group: Glob
        public var kind: Glob

        func matches(group: String, kind: String) -> Bool { self.group.matches(group) && self.kind.matches(kind) }

        static func list(_ node: ConfigurationNode) throws -> [ResourceKind] {
            try node.sequence().map { entry in
                let fields = try entry.mapping(allowedKeys: ["group", "kind"])
                let group = try fields["group"]?.string() ?? ""
                let kind = try fields.required("kind").string()
                guard !group.hasPrefix("!"), !kind.hasPrefix("!") else { throw entry.error("resource lists take no !patterns: use the blacklist") }
                return ResourceKind(group: Glob.project(group), kind: Glob.project(kind))
            }
        }
    }

    /// Why the project refuses a kind, nil when it allows it — Argo CD's `IsGroupKindPermitted`.
    public func refusal(group: String, kind: String, clusterScoped: Bool) -> String? {
        let name = group.isEmpty ? kind : "\(kind).\(group)"
        if clusterScoped {
            if let allowed = self.clusterResourceWhitelist, !allowed.contains(where: { $0.matches(group: group, kind: kind) }) {
                return "project \(self.name) does not allow cluster-scoped \(name) (not in clusterResourceWhitelist)"
            }
            if self.clusterResourceBlacklist.contains(where: { $0.matches(group: group, kind: kind) }) {
                return "project \(self.name) does not allow cluster-scoped \(name) (clusterResourceBlacklist)"
            }
        } else {
            if let allowed = self.namespaceResourceWhitelist, !allowed.contains(where: { $0.matches(group: group, kind: kind) }) {
                return "project \(self.name) does not allow \(name) (not in namespaceResourceWhitelist)"
            }
            if self.namespaceResourceBlacklist.contains(where: { $0.matches(group: group, kind: kind) }) {
                return "project \(self.name) does not allow \(name) (namespaceResourceBlacklist)"
            }
        }
        return nil
    }

    /// The implicit `default` project, as in Argo CD: everything allowed.
    public static let implicitDefault = ProjectSettings(name: "default", sourceRepos: [Glob("**")], destinations: [Glob("**")])

    init(name: String, sourceRepos: [Glob], destinations: [Glob]) {
        self.name = name
        self.sourceRepos = sourceRepos
        self.destinations = destinations
    }

    init(node: ConfigurationNode) throws {
        let mapping = try node.mapping(allowedKeys: [
            "name", "sourceRepos", "destinations", "clusterResourceWhitelist", "clusterResourceBlacklist", "namespaceResourceWhitelist", "namespaceResourceBlacklist",
        ])
        self.name = try mapping.required("name").string()
        try self.readResourceLists(mapping)
        self.sourceRepos = try mapping["sourceRepos"]?.stringList().map(Glob.sourceRepository) ?? []
        for entry in try mapping["destinations"]?.sequence() ?? [] {
            if case .mapping = entry.node {
                let fields = try entry.mapping(allowedKeys: ["name", "server", "namespace"])
                self.clusterDestinations.append(
                    ClusterDestination(
                        name: (try fields["name"]?.string()).map(Glob.project), server: (try fields["server"]?.string()).map(Glob.project),
                        namespace: (try fields["namespace"]?.string()).map(Glob.project)
                    )
                )
            } else {
                self.destinations.append(Glob.project(try entry.string()))
            }
        }
    }
}

extension ProjectSettings {
    /// The four allow and deny lists, where given.
    mutating func readResourceLists(_ mapping: ConfigurationMapping) throws {
        if let node = mapping["clusterResourceWhitelist"] { self.clusterResourceWhitelist = try ResourceKind.list(node) }
        if let node = mapping["clusterResourceBlacklist"] { self.clusterResourceBlacklist = try ResourceKind.list(node) }
        if let node = mapping["namespaceResourceWhitelist"] { self.namespaceResourceWhitelist = try ResourceKind.list(node) }
        if let node = mapping["namespaceResourceBlacklist"] { self.namespaceResourceBlacklist = try ResourceKind.list(node) }
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
    /// `ignoreDifferences`. Default none.
    public var ignoreDifferences: [IgnoreDifference] = []
    /// `destination.overrideNamespace`: every namespaced object goes to the destination's
    /// namespace, even one naming its own (Flux's `targetNamespace`). Default false: the
    /// namespace is given only to objects that name none (Argo CD's destination namespace).
    public var overrideNamespace = false
    /// `destination.server` when the app names its cluster by URL; resolved to `cluster` once
    /// `clusters` is read.
    var destinationServer: String?
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
        /// `directory.jsonnet`. Default no variables or libraries.
        public var jsonnet = Jsonnet()
        /// `kustomize`: edits to the path's kustomization. Default nil: none.
        public var kustomize: Kustomize?
        /// `helm`: the path is a chart rendered by `helm template`. Default nil: not a chart.
        public var helm: Helm?
        /// `plugin`: rendered by a config-management plugin. Default nil.
        public var plugin: Plugin?
    }

    public enum Destination: Sendable, CustomStringConvertible {
        /// `{ directory: PATH }`.
        case directory(String)
        /// `{ git: { repoURL, branch, path } }`: a rendered-manifests branch.
        case git(repoURL: String, branch: String, path: String)
        /// `{ name: CLUSTER, namespace: NS }` (or `server: URL`): a Kubernetes cluster from
        /// `clusters`; `namespace` is given to namespaced objects that name none.
        case kubernetes(cluster: String, namespace: String?)

        /// The string projects' `destinations` globs match: `directory:/path`, `git:url` or
        /// `kubernetes:CLUSTER/NAMESPACE`.
        public var description: String {
            switch self {
            case .directory(let path): "directory:\(path)"
            case .git(let url, let branch, _): "git:\(url)#\(branch)"
            case .kubernetes(let cluster, let namespace): "kubernetes:\(cluster)/\(namespace ?? "")"
            }
        }
    }

    /// `ignoreDifferences[]`, as in Argo CD's Application, or `driftIgnoreRules[]`, as in Flux's
    /// Kustomization: fields of matching objects that drift detection does not count.
    public struct IgnoreDifference: Sendable {
        /// `group` (empty: core; nil: any), `kind` (nil: any); `name` and `namespace` (nil: any).
        public var group: String?
        public var kind: String?
        public var name: String?
        public var namespace: String?
        /// `jsonPointers`: RFC 6901 pointers (`/spec/replicas`); a field under one is ignored too.
        public var jsonPointers: [String]

        public init(group: String?, kind: String?, name: String? = nil, namespace: String? = nil, jsonPointers: [String]) {
            self.group = group
            self.kind = kind
            self.name = name
            self.namespace = namespace
            self.jsonPointers = jsonPointers
        }
    }

    public struct SyncPolicy: Sendable {
        /// `automated`: sync on changes; nil for manual. Default automated without prune or self-heal.
        public var automated: Automated? = Automated()
        /// `retry` with Argo CD's defaults: 5 attempts, 5 s, ×2, at most 3 min.
        public var retry = Retry()
        /// `interval`: periodic reconcile. Default 3 min.
        public var interval: Duration = .seconds(180)
        /// `syncOptions`, Argo CD's `Key=value` strings. Kubernetes destinations only.
        public var options = Options()
        /// `waitForHealth`: a Kubernetes sync succeeds only once every object is healthy, each
        /// wave waiting for the previous one; nil: succeed once applied. Default nil.
        public var waitForHealth: Duration?

        public struct Options: Sendable {
            /// `CreateNamespace=true`: create the destination namespace when missing. Default false.
            public var createNamespace = false
            /// `PrunePropagationPolicy=foreground|background|orphan`. Default foreground.
            public var prunePropagationPolicy = "Foreground"
            /// `ForceConflicts=false` (kubectl's `--force-conflicts`): server-side apply fails with a
            /// conflict naming the fields and their manager instead of taking fields another
            /// manager set. Default true, as Argo CD and Flux apply: the repository wins.
            public var force = true
            /// `PruneLast=true`: prune after every wave is applied. Pruning runs last anyway; accepted for Argo CD manifests.
            public var pruneLast = false

            /// Every key `syncOptions` accepts.
            static let keys = ["CreateNamespace", "PrunePropagationPolicy", "ForceConflicts", "PruneLast", "ServerSideApply"]
        }

        public struct Automated: Sendable {
            public var prune = false
            public var selfHeal = false
            /// `allowEmpty`: let a sync with prune render nothing and so delete everything the app
            /// owns. Default false, as in Argo CD: such a sync is refused (a broken path or an
            /// emptied directory is far likelier than a wish to delete it all).
            public var allowEmpty = false
        }

        public struct Retry: Sendable {
            public var limit = 5
            public var duration: Duration = .seconds(5)
            public var factor = 2.0
            public var maxDuration: Duration = .seconds(180)
        }
    }

    init(node: ConfigurationNode) throws {
        let mapping = try node.mapping(allowedKeys: ["name", "project", "source", "destination", "syncPolicy", "ignoreDifferences", "driftIgnoreRules"])
        self.file = node.file
        self.line = node.line
        self.name = try mapping.required("name").string()
        guard self.name.range(of: "^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$", options: .regularExpression) != nil else {
            throw try mapping.required("name").error("app names are lower-case letters, digits, '-' and '.', at most 63 characters")
        }
        if let project = mapping["project"] { self.project = try project.string() }

        let source = try mapping.required("source").mapping(allowedKeys: ["repoURL", "targetRevision", "path", "directory", "kustomize", "helm", "plugin", "substitute"])
        self.source = Source(repoURL: try source.required("repoURL").string())
        if let value = source["targetRevision"] { self.source.targetRevision = try value.string() }
        if let value = source["path"] {
            let path = try value.string()
            guard !path.split(separator: "/").contains("..") else { throw value.error("the path may not leave the repository") }
            self.source.path = path
        }
        try self.source.readKind(from: source)
        if let substitute = source["substitute"] {
            for (key, value) in try substitute.mapping(allowedKeys: nil).entries {
                self.source.substitute[key] = try value.string()
            }
        }

        let destinationNode = try mapping.required("destination")
        let destination = try destinationNode.mapping(allowedKeys: ["name", "server", "namespace", "overrideNamespace", "directory", "git"])
        if let value = destination["name"] {
            let name = try value.string()
            // It names a topic (`<prefix>.requests.<name>`) and a consumer group.
            guard name.range(of: "^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$", options: .regularExpression) != nil else {
                throw value.error("cluster names are lower-case letters, digits, '-' and '.', at most 63 characters")
            }
            self.cluster = name
        }
        if let server = destination["server"] { self.destinationServer = try server.string() }
        let namespace = try destination["namespace"]?.string()
        if let namespace, namespace.range(of: "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", options: .regularExpression) == nil {
            throw try destination.required("namespace").error("not a namespace name (lower-case letters, digits and '-', at most 63)")
        }
        if let value = destination["overrideNamespace"] {
            self.overrideNamespace = try value.bool()
            if self.overrideNamespace, namespace == nil { throw value.error("overrideNamespace needs a namespace") }
        }
        if destination["directory"] != nil || destination["git"] != nil {
            if let key = ["namespace", "server", "overrideNamespace"].first(where: { destination[$0] != nil }) {
                throw try destination.required(key).error("\(key) belongs to a Kubernetes destination, not a directory or git one")
            }
        }
        switch (destination["directory"], destination["git"]) {
        case (nil, nil) where self.cluster != nil || self.destinationServer != nil:
            // Resolved against `clusters` by TributaryConfiguration (a server URL names its cluster there).
            self.destination = .kubernetes(cluster: self.cluster ?? "", namespace: namespace)
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
            throw destinationNode.error("a destination is a cluster { name: CLUSTER, namespace: NS } (or server: URL), or exactly one of { directory: PATH } or { git: { repoURL, branch, path } } optionally with name: CLUSTER")
        }

        if let policyNode = mapping["syncPolicy"] {
            let policy = try policyNode.mapping(allowedKeys: ["automated", "retry", "interval", "syncOptions", "waitForHealth"])
            if let automatedNode = policy["automated"] {
                let automated = try automatedNode.mapping(allowedKeys: ["prune", "selfHeal", "allowEmpty"])
                self.syncPolicy.automated = .init(
                    prune: try automated["prune"]?.bool() ?? false,
                    selfHeal: try automated["selfHeal"]?.bool() ?? false,
                    allowEmpty: try automated["allowEmpty"]?.bool() ?? false
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
            if let options = policy["syncOptions"] {
                for entry in try options.sequence() {
                    try Self.read(option: entry, into: &self.syncPolicy.options)
                }
            }
            if let wait = policy["waitForHealth"] { self.syncPolicy.waitForHealth = try wait.duration() }
            if case .kubernetes = self.destination {} else if let key = ["syncOptions", "waitForHealth"].first(where: { policy[$0] != nil }) {
                throw try policy.required(key).error("\(key) applies to Kubernetes destinations only")
            }
        }
        if let ignoreNode = mapping["ignoreDifferences"] {
            for entry in try ignoreNode.sequence() {
                let fields = try entry.mapping(allowedKeys: ["group", "kind", "name", "namespace", "jsonPointers"])
                let pointers = try fields.required("jsonPointers").stringList()
                for pointer in pointers where !pointer.hasPrefix("/") {
                    throw try fields.required("jsonPointers").error("a JSON pointer starts with /: \(pointer)")
                }
                self.ignoreDifferences.append(
                    IgnoreDifference(
                        group: try fields["group"]?.string() ?? "", kind: try fields.required("kind").string(),
                        name: try fields["name"]?.string(), namespace: try fields["namespace"]?.string(), jsonPointers: pointers
                    )
                )
            }
        }
        if let rulesNode = mapping["driftIgnoreRules"] {
            // Flux's form: `paths` (JSON pointers) and an optional `target` selector.
            for entry in try rulesNode.sequence() {
                let fields = try entry.mapping(allowedKeys: ["paths", "target"])
                let paths = try fields.required("paths").stringList()
                for path in paths where !path.hasPrefix("/") {
                    throw try fields.required("paths").error("a JSON pointer starts with /: \(path)")
                }
                var rule = IgnoreDifference(group: nil, kind: nil, jsonPointers: paths)
                if let targetNode = fields["target"] {
                    let target = try targetNode.mapping(allowedKeys: ["group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"])
                    if let key = ["labelSelector", "annotationSelector"].first(where: { target[$0] != nil }) {
                        throw try target.required(key).error("\(key) in a drift ignore rule is not supported yet; select by group, kind, name and namespace")
                    }
                    rule.group = try target["group"]?.string()
                    rule.kind = try target["kind"]?.string()
                    rule.name = try target["name"]?.string()
                    rule.namespace = try target["namespace"]?.string()
                }
                self.ignoreDifferences.append(rule)
            }
        }
    }

    /// An app built from another tool's definition (`Definitions`), with the defaults of a native one.
    init(name: String, repoURL: String, file: String, line: Int?) {
        self.name = name
        self.source = Source(repoURL: repoURL)
        self.destination = .kubernetes(cluster: "", namespace: nil)
        self.file = file
        self.line = line
    }

    static func read(option node: ConfigurationNode, into options: inout SyncPolicy.Options) throws {
        let text = try node.string()
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, SyncPolicy.Options.keys.contains(parts[0]) else {
            throw node.error("unknown sync option \(text) (known: \(SyncPolicy.Options.keys.map { "\($0)=..." }.joined(separator: ", ")))")
        }
        func flag() throws -> Bool {
            switch parts[1] {
            case "true": return true
            case "false": return false
            default: throw node.error("\(parts[0]) is true or false")
            }
        }
        switch parts[0] {
        case "CreateNamespace": options.createNamespace = try flag()
        case "ForceConflicts": options.force = try flag()
        case "PruneLast": options.pruneLast = try flag()
        case "ServerSideApply":
            guard try flag() else { throw node.error("Tributary always applies server-side; ServerSideApply=false is not supported") }
        default:
            let policies = ["foreground": "Foreground", "background": "Background", "orphan": "Orphan"]
            guard let policy = policies[parts[1].lowercased()] else { throw node.error("PrunePropagationPolicy is foreground, background or orphan") }
            options.prunePropagationPolicy = policy
        }
    }
}
