import Foundation
import Yams

/// `definitions`: Argo CD `Application`/`AppProject` and Flux `GitRepository`/`Kustomization`
/// manifests read as Tributary projects and apps with the same meaning, so a team can point
/// Tributary at the definitions it already has.
///
/// Every field is either mapped or reported, never silently dropped. A field whose absence
/// changes nothing Tributary does (`revisionHistoryLimit`, `dependsOn`, a `secretRef`) is a
/// warning; one that changes what would be rendered or where it goes (`spec.sources`, Helm, a
/// Kustomization's `patches`) leaves the app out — also as a warning, so `tributary check` lists
/// every problem at once — rather than syncing something other than what the definition means.
public struct Definitions: Sendable {
    public var projects: [ProjectSettings] = []
    public var apps: [AppSettings] = []
    /// `file:line: field: message`, in file order.
    public var warnings: [String] = []

    public init() {}

    /// Reads the definitions in `path` (a file, or a directory searched for `.yaml`/`.yml` files).
    ///
    /// - Parameter cluster: the cluster Flux Kustomizations (which apply where Flux runs) and Argo
    ///   CD's in-cluster destination (`https://kubernetes.default.svc`) stand for.
    /// - Throws: `ConfigurationError` for a file that cannot be read or is not YAML.
    public static func load(path: String, cluster: String?) throws -> Definitions {
        try self.load([(path, cluster)])
    }

    /// Reads several paths as one set, so a Kustomization finds a GitRepository of another file or entry.
    public static func load(_ entries: [(path: String, cluster: String?)]) throws -> Definitions {
        var reader = Reader(cluster: nil)
        for (path, cluster) in entries {
            reader.cluster = cluster
            for file in try self.files(in: path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw ConfigurationError(file: file, line: nil, key: "", message: "cannot read the file")
                }
                try reader.read(yaml: String(decoding: data, as: UTF8.self), file: file)
            }
        }
        return reader.finish()
    }

    private static func files(in path: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigurationError(file: path, line: nil, key: "", message: "no such file or directory")
        }
        guard isDirectory.boolValue else { return [path] }
        let enumerator = FileManager.default.enumerator(atPath: path)
        return (enumerator?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { "\(path)/\($0)" }
    }

    /// Reads definitions from YAML text (one or more documents).
    public static func parse(yaml: String, file: String, cluster: String?) throws -> Definitions {
        var reader = Reader(cluster: cluster)
        try reader.read(yaml: yaml, file: file)
        return reader.finish()
    }
}

/// Argo CD's name for "the cluster Argo CD runs in".
private let inClusterServer = "https://kubernetes.default.svc"

private struct Reader {
    /// The cluster of the entry being read.
    var cluster: String?
    var result = Definitions()
    /// Flux sources by `namespace/name`, and Kustomizations waiting for theirs.
    var repositories: [String: FluxSource] = [:]
    var kustomizations: [(ConfigurationNode, ConfigurationMapping, String?)] = []

    struct FluxSource {
        var url: String
        var revision: String
        var interval: Duration?
    }

    init(cluster: String?) {
        self.cluster = cluster
    }

    mutating func read(yaml: String, file: String) throws {
        var documents: [Node] = []
        do {
            let parser = try Parser(yaml: yaml, encoding: .utf8)
            while let document = try parser.nextRoot() { documents.append(document) }
        } catch let error as YamlError {
            throw ConfigurationError(yamlError: error, file: file)
        }
        for document in documents {
            let node = ConfigurationNode(node: document, file: file, path: "")
            if node.isNull { continue }
            let mapping = try node.mapping(allowedKeys: nil)
            let apiVersion = (try? mapping["apiVersion"]?.string()) ?? ""
            let kind = (try? mapping["kind"]?.string()) ?? ""
            let group = apiVersion.split(separator: "/").first.map(String.init) ?? ""
            switch (group, kind) {
            case ("argoproj.io", "Application"): try self.application(node, mapping)
            case ("argoproj.io", "AppProject"): try self.appProject(node, mapping)
            case ("source.toolkit.fluxcd.io", "GitRepository"): try self.gitRepository(node, mapping)
            case ("kustomize.toolkit.fluxcd.io", "Kustomization"): self.kustomizations.append((node, mapping, self.cluster))
            case ("argoproj.io", "ApplicationSet"):
                self.warn(node, "kind", "ApplicationSet is not supported yet; it is skipped (list its Applications instead)")
            case ("helm.toolkit.fluxcd.io", "HelmRelease"), ("source.toolkit.fluxcd.io", "HelmRepository"), ("source.toolkit.fluxcd.io", "OCIRepository"):
                self.warn(node, "kind", "Flux \(kind) is not supported yet (no Helm sources); it is skipped")
            default:
                self.warn(node, "kind", "\(kind.isEmpty ? "a document without kind" : "\(apiVersion) \(kind)") is not an Argo CD or Flux definition Tributary reads; skipped")
            }
        }
    }

    mutating func finish() -> Definitions {
        for (node, mapping, cluster) in self.kustomizations {
            do {
                try self.kustomization(node, mapping, cluster: cluster)
            } catch let error as ConfigurationError {
                self.result.warnings.append("\(error); the Kustomization is left out")
            } catch {
                self.result.warnings.append("\(node.file):\(node.line ?? 0): \(error)")
            }
        }
        var seen: [String: String] = [:]
        var apps: [AppSettings] = []
        for app in self.result.apps {
            if let first = seen[app.name] {
                self.result.warnings.append("\(app.declaredAt): metadata.name: app \(app.name) is already defined at \(first); this one is left out")
                continue
            }
            seen[app.name] = app.declaredAt
            apps.append(app)
        }
        self.result.apps = apps
        return self.result
    }

    // MARK: Reporting

    mutating func warn(_ node: ConfigurationNode, _ field: String, _ message: String) {
        let path = field.isEmpty ? node.path : node.path.isEmpty ? field : "\(node.path).\(field)"
        self.result.warnings.append("\(node.file):\(node.line ?? 0): \(path): \(message)")
    }

    /// Reports every key of `mapping` outside `supported`: those in `fatal` leave the definition
    /// out (returned), the rest are ignored with a warning.
    mutating func check(_ mapping: ConfigurationMapping, supported: Set<String>, fatal: [String: String] = [:], ignored note: String = "not supported; ignored") -> [String] {
        var reasons: [String] = []
        for (key, value) in mapping.entries where !supported.contains(key) {
            if let why = fatal[key] {
                self.warn(value, "", "\(why); the app is left out")
                reasons.append(key)
            } else {
                self.warn(value, "", note)
            }
        }
        return reasons
    }

    mutating func name(of mapping: ConfigurationMapping) throws -> (name: String, namespace: String?) {
        let metadata = try mapping.required("metadata").mapping(allowedKeys: nil)
        _ = self.check(metadata, supported: ["name", "namespace", "labels", "uid", "resourceVersion", "generation", "creationTimestamp"], ignored: "not read by Tributary (notification subscriptions go in subscriptions[], finalizers have no meaning here); ignored")
        return (try metadata.required("name").string(), try metadata["namespace"]?.string())
    }

    // MARK: Argo CD

    mutating func application(_ node: ConfigurationNode, _ document: ConfigurationMapping) throws {
        let (name, _) = try self.name(of: document)
        let spec = try document.required("spec").mapping(allowedKeys: nil)
        var left = self.check(
            spec, supported: ["project", "source", "destination", "syncPolicy", "ignoreDifferences"],
            fatal: ["sources": "multi-source Applications are not supported yet"]
        )
        _ = self.check(document, supported: ["apiVersion", "kind", "metadata", "spec"], ignored: "not read by Tributary")
        guard let sourceNode = spec["source"] else {
            if left.isEmpty { self.warn(spec.owner, "source", "required key is missing; the app is left out") }
            return
        }
        let source = try sourceNode.mapping(allowedKeys: nil)
        left += self.check(
            source, supported: ["repoURL", "targetRevision", "path", "directory", "kustomize", "helm", "plugin"],
            fatal: [
                "chart": "Helm charts from a Helm or OCI repository are not supported yet (a chart in the git repository is: give its path)",
                "ref": "multi-source refs are not supported yet",
            ]
        )
        if let kustomize = source["kustomize"] {
            left += self.check(
                try kustomize.mapping(allowedKeys: nil), supported: AppSettings.Source.Kustomize.keys,
                fatal: [
                    "components": "Kustomize components are not supported yet", "commonAnnotationsEnvsubst": "commonAnnotationsEnvsubst is not supported yet",
                    "labelWithoutSelector": "labelWithoutSelector is not supported yet", "labelIncludeTemplates": "labelIncludeTemplates is not supported yet",
                    "apiVersions": "overriding API versions is not supported yet", "kubeVersion": "overriding the Kubernetes version is not supported yet",
                ],
                ignored: "not read by Tributary (it builds with its own kustomize); ignored"
            )
        }
        if let directory = source["directory"] {
            let fields = try directory.mapping(allowedKeys: nil)
            left += self.check(
                fields, supported: ["recurse", "jsonnet"],
                fatal: ["include": "include globs are not supported yet", "exclude": "exclude globs are not supported yet"]
            )
        }
        if let helm = source["helm"] {
            left += self.check(
                try helm.mapping(allowedKeys: nil), supported: AppSettings.Source.Helm.keys,
                fatal: [
                    "fileParameters": "Helm fileParameters are not supported yet",
                    "apiVersions": "overriding the API versions given to Helm is not supported yet (the destination's are given)",
                    "kubeVersion": "overriding the Kubernetes version given to Helm is not supported yet (the destination's is given)",
                ],
                ignored: "not read by Tributary (it runs Helm 3 on charts in the git repository); ignored"
            )
        }
        if let plugin = source["plugin"], try plugin.mapping(allowedKeys: nil)["name"] == nil {
            self.warn(plugin, "name", "plugin discovery is not supported: name the plugin; the app is left out")
            left.append("plugin")
        }
        var app = AppSettings(name: name, repoURL: try source.required("repoURL").string(), file: node.file, line: node.line)
        app.project = try spec["project"]?.string() ?? "default"
        if let revision = source["targetRevision"] { app.source.targetRevision = try revision.string() }
        if let path = source["path"] { app.source.path = Self.normalized(try path.string()) }
        if !left.contains("plugin") { try app.source.readKind(from: source, strict: false) }

        let destination = try spec.required("destination").mapping(allowedKeys: nil)
        left += self.check(destination, supported: ["server", "name", "namespace"])
        let namespace = try destination["namespace"]?.string()
        app.cluster = try destination["name"]?.string()
        let server = try destination["server"]?.string()
        if app.cluster == "in-cluster" { app.cluster = nil }  // Argo CD's name for its own cluster
        if app.cluster == nil, server == inClusterServer || server == nil {
            // Argo CD's own cluster: the one these definitions were given for.
            guard let cluster = self.cluster else {
                self.warn(destination.owner, "server", "the in-cluster destination needs definitions: [{ path, cluster: NAME }] naming that cluster; the app is left out")
                return
            }
            app.cluster = cluster
        } else if app.cluster == nil {
            app.destinationServer = server
        }
        app.destination = .kubernetes(cluster: app.cluster ?? "", namespace: namespace)

        if let policyNode = spec["syncPolicy"] {
            let policy = try policyNode.mapping(allowedKeys: nil)
            left += self.check(policy, supported: ["automated", "syncOptions", "retry"])
            if let automatedNode = policy["automated"] {
                let automated = try automatedNode.mapping(allowedKeys: nil)
                left += self.check(automated, supported: ["prune", "selfHeal", "allowEmpty", "enabled"])
                if try automated["enabled"]?.bool() == false {
                    app.syncPolicy.automated = nil
                } else {
                    app.syncPolicy.automated = .init(
                        prune: try automated["prune"]?.bool() ?? false, selfHeal: try automated["selfHeal"]?.bool() ?? false,
                        allowEmpty: try automated["allowEmpty"]?.bool() ?? false
                    )
                }
            } else {
                app.syncPolicy.automated = nil
            }
            for option in try policy["syncOptions"]?.sequence() ?? [] {
                do {
                    try AppSettings.read(option: option, into: &app.syncPolicy.options)
                } catch let error as ConfigurationError {
                    self.warn(option, "", "\(error.message); ignored")
                }
            }
            // Argo CD retries a failed sync only when `retry` is given.
            app.syncPolicy.retry.limit = 0
            if let retryNode = policy["retry"] {
                app.syncPolicy.retry = .init()
                app.syncPolicy.retry.limit = 0  // Argo CD: a retry without limit retries none
                let retry = try retryNode.mapping(allowedKeys: nil)
                left += self.check(retry, supported: ["limit", "backoff"])
                if let limit = retry["limit"] {
                    let value = try limit.int()
                    if value < 0 || value > 100 { self.warn(limit, "", "\(value) retries: Tributary retries at most 100 times") }
                    app.syncPolicy.retry.limit = value < 0 ? 100 : min(value, 100)
                }
                if let backoffNode = retry["backoff"] {
                    let backoff = try backoffNode.mapping(allowedKeys: nil)
                    left += self.check(backoff, supported: ["duration", "factor", "maxDuration"])
                    if let value = backoff["duration"] { app.syncPolicy.retry.duration = try value.duration() }
                    if let value = backoff["factor"] { app.syncPolicy.retry.factor = Double(try value.int(in: 1...100)) }
                    if let value = backoff["maxDuration"] { app.syncPolicy.retry.maxDuration = try value.duration() }
                }
            }
        } else {
            app.syncPolicy.automated = nil  // Argo CD: no syncPolicy, a manual app
            app.syncPolicy.retry.limit = 0
        }
        for entry in try spec["ignoreDifferences"]?.sequence() ?? [] {
            let fields = try entry.mapping(allowedKeys: nil)
            left += self.check(fields, supported: ["group", "kind", "name", "namespace", "jsonPointers"], ignored: "not supported (only jsonPointers); ignored")
            app.ignoreDifferences.append(
                .init(
                    group: try fields["group"]?.string() ?? "", kind: try fields.required("kind").string(), name: try fields["name"]?.string(),
                    namespace: try fields["namespace"]?.string(), jsonPointers: try fields["jsonPointers"]?.stringList() ?? []
                )
            )
        }
        guard left.isEmpty else { return }
        self.result.apps.append(app)
    }

    mutating func appProject(_ node: ConfigurationNode, _ document: ConfigurationMapping) throws {
        let (name, _) = try self.name(of: document)
        let spec = try document["spec"]?.mapping(allowedKeys: nil)
        var project = ProjectSettings(name: name, sourceRepos: [], destinations: [])
        // Argo CD: an AppProject without clusterResourceWhitelist allows no cluster-scoped kind.
        project.clusterResourceWhitelist = []
        guard let spec else {
            self.result.projects.append(project)
            return
        }
        try project.readResourceLists(spec)
        for (key, value) in spec.entries {
            switch key {
            case "description": continue
            case "sourceRepos":
                project.sourceRepos = try value.stringList().map(Glob.sourceRepository)
            case "destinations":
                for entry in try value.sequence() {
                    let fields = try entry.mapping(allowedKeys: nil)
                    _ = self.check(fields, supported: ["server", "name", "namespace"])
                    var name = try fields["name"]?.string()
                    var server = try fields["server"]?.string()
                    let namespace = try fields["namespace"]?.string()
                    // Argo CD's own cluster is the cluster these definitions were given for.
                    if server == inClusterServer || name == "in-cluster", let cluster = self.cluster {
                        name = cluster
                        server = nil
                    }
                    project.clusterDestinations.append(
                        .init(name: name.map(Glob.project), server: server.map(Glob.project), namespace: namespace.map(Glob.project))
                    )
                }
            case "clusterResourceWhitelist", "clusterResourceBlacklist", "namespaceResourceWhitelist", "namespaceResourceBlacklist":
                continue
            default:
                self.warn(value, "", "not supported; ignored")
            }
        }
        self.result.projects.append(project)
    }

    // MARK: Flux

    mutating func gitRepository(_ node: ConfigurationNode, _ document: ConfigurationMapping) throws {
        let (name, namespace) = try self.name(of: document)
        let spec = try document.required("spec").mapping(allowedKeys: nil)
        let left = self.check(
            spec, supported: ["url", "ref", "interval", "secretRef", "timeout"],
            fatal: ["ignore": "it changes which files are rendered, and is not supported yet", "include": "it changes which files are rendered, and is not supported yet"]
        )
        guard left.isEmpty else { return }  // its Kustomizations then find no source and are left out too
        if let secret = spec["secretRef"] {
            self.warn(secret, "", "Tributary does not read Kubernetes Secrets: give the repository's credentials in repositories[]")
        }
        var source = FluxSource(url: try spec.required("url").string(), revision: "HEAD", interval: try spec["interval"]?.duration())
        if let refNode = spec["ref"] {
            let ref = try refNode.mapping(allowedKeys: nil)
            for key in ["semver", "name"] where ref[key] != nil {
                self.warn(refNode, key, "ref.\(key) is not supported yet; the repository's Kustomizations are left out")
                return
            }
            source.revision = try ref["commit"]?.string() ?? ref["tag"]?.string() ?? ref["branch"]?.string() ?? "HEAD"
        }
        self.repositories["\(namespace ?? "default")/\(name)"] = source
    }

    mutating func kustomization(_ node: ConfigurationNode, _ document: ConfigurationMapping, cluster: String?) throws {
        let (name, namespace) = try self.name(of: document)
        let spec = try document.required("spec").mapping(allowedKeys: nil)
        let changesRendering = "it changes what is rendered, and is not supported yet"
        let left = self.check(
            spec, supported: ["sourceRef", "path", "prune", "interval", "targetNamespace", "suspend", "postBuild", "wait", "timeout", "retryInterval"],
            fatal: [
                "patches": changesRendering, "images": changesRendering, "components": changesRendering, "namePrefix": changesRendering,
                "nameSuffix": changesRendering, "commonMetadata": changesRendering, "decryption": "SOPS decryption is not supported yet",
                "kubeConfig": "a remote cluster by kubeConfig secret: declare it in clusters[] and give definitions: [{ path, cluster }]",
            ]
        )
        let sourceRef = try spec.required("sourceRef").mapping(allowedKeys: nil)
        let kind = try sourceRef.required("kind").string()
        guard kind == "GitRepository" else {
            self.warn(sourceRef.owner, "kind", "sources of kind \(kind) are not supported yet (GitRepository only); the app is left out")
            return
        }
        let key = "\(try sourceRef["namespace"]?.string() ?? namespace ?? "default")/\(try sourceRef.required("name").string())"
        guard let source = self.repositories[key] else {
            self.warn(sourceRef.owner, "name", "no GitRepository \(key) among the definitions; the app is left out")
            return
        }
        guard let cluster else {
            self.warn(node, "kind", "a Kustomization applies to the cluster Flux runs in: name it with definitions: [{ path, cluster: NAME }]; the app is left out")
            return
        }
        guard left.isEmpty else { return }
        var app = AppSettings(name: name, repoURL: source.url, file: node.file, line: node.line)
        app.source.targetRevision = source.revision
        app.source.path = Self.normalized(try spec["path"]?.string() ?? "")
        app.source.recurse = true  // Flux builds the whole tree under path (a generated kustomization)
        app.cluster = cluster
        app.destination = .kubernetes(cluster: cluster, namespace: try spec["targetNamespace"]?.string())
        // Flux sets it on every namespaced object, as kustomize's namespace transformer does.
        app.overrideNamespace = spec["targetNamespace"] != nil
        let prune = try spec.required("prune").bool()
        app.syncPolicy.automated = try spec["suspend"]?.bool() == true ? nil : .init(prune: prune, selfHeal: true, allowEmpty: true)
        if let interval = try spec["interval"]?.duration() ?? source.interval { app.syncPolicy.interval = interval }
        if let retry = spec["retryInterval"] {
            // Flux retries at a fixed interval, without limit.
            app.syncPolicy.retry = .init(limit: 100, duration: try retry.duration(), factor: 1, maxDuration: try retry.duration())
        }
        if try spec["wait"]?.bool() == true {
            app.syncPolicy.waitForHealth = try spec["timeout"]?.duration() ?? app.syncPolicy.interval
        }
        if let postBuildNode = spec["postBuild"] {
            let postBuild = try postBuildNode.mapping(allowedKeys: nil)
            if postBuild["substituteFrom"] != nil {
                self.warn(postBuildNode, "substituteFrom", "substitutions from ConfigMaps and Secrets are not supported yet; the app is left out")
                return
            }
            for (variable, value) in try postBuild["substitute"]?.mapping(allowedKeys: nil).entries ?? [] {
                app.source.substitute[variable] = try value.string()
            }
        }
        self.result.apps.append(app)
    }

    /// `./apps/shop/` → `apps/shop`.
    static func normalized(_ path: String) -> String {
        var path = Substring(path)
        while path.hasPrefix("./") { path = path.dropFirst(2) }
        while path.hasSuffix("/") { path = path.dropLast() }
        return path == "." ? "" : String(path)
    }
}
