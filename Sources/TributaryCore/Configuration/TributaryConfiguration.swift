import Foundation
import Yams

/// Everything one YAML file configures. `config/example.yaml` documents every key.
public struct TributaryConfiguration: Sendable {
    /// The file it was read from, for messages.
    public var file: String
    public var kafka: KafkaSettings
    public var listener: ListenerSettings
    /// `server`: the status API.
    public var server = ServerSettings()
    /// `mirrors`: limits on the Git mirrors kept on disk.
    public var mirrors = MirrorSettings()
    public var webhooks: WebhookSettings
    /// `repositories`: clone URLs and credentials.
    public var repositories: [RepositorySettings] = []
    /// `projects`: allow-lists for apps' sources and destinations.
    public var projects: [ProjectSettings] = []
    /// `clusters`: Kubernetes API servers and their credentials.
    public var clusters: [ClusterSettings] = []
    /// `apps`: what to render and where to sync it.
    public var apps: [AppSettings] = []
    /// `helm` and `plugins`: external renderers. Default: `helm` on PATH, no plugins.
    public var renderers: [RendererSettings] = [RendererSettings(name: RendererSettings.helmName, generate: ["helm"])]
    /// `sinks`, `triggers`, `subscriptions`, `templates`: notifications.
    public var notifications = NotificationSettings()
    /// Sections this version reads but does not act on yet, with a note each (printed by `check`).
    public var warnings: [String]

    /// Defaults only: embedded broker, listener on 127.0.0.1:8080, no webhook secrets.
    public init(file: String = "<defaults>") {
        self.file = file
        self.kafka = KafkaSettings()
        self.listener = ListenerSettings()
        self.webhooks = WebhookSettings()
        self.warnings = []
    }

    /// Reads and validates a configuration file.
    ///
    /// - Throws: `ConfigurationError` naming the file, the line and the key.
    public static func load(path: String) throws -> TributaryConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(file: path, line: nil, key: "", message: "cannot read the file")
        }
        return try self.parse(yaml: String(decoding: data, as: UTF8.self), file: path)
    }

    /// Parses and validates configuration text.
    ///
    /// - Throws: `ConfigurationError` naming `file`, the line and the key.
    public static func parse(yaml: String, file: String) throws -> TributaryConfiguration {
        let root: Node
        do {
            guard let composed = try Yams.compose(yaml: yaml) else {
                return TributaryConfiguration(file: file)
            }
            root = composed
        } catch let error as YamlError {
            throw ConfigurationError(yamlError: error, file: file)
        }
        var configuration = TributaryConfiguration(file: file)
        var subscriptionNodes: [ConfigurationNode] = []
        let document = try ConfigurationNode(node: root, file: file, path: "").mapping(allowedKeys: Self.topLevelKeys)
        // In file order, so the first error reported is the first in the file.
        for (key, node) in document.entries where !node.isNull {
            switch key {
            case "kafka": configuration.kafka = try KafkaSettings(node: node)
            case "listener": configuration.listener = try ListenerSettings(node: node)
            case "server": configuration.server = try ServerSettings(node: node)
            case "mirrors": configuration.mirrors = try MirrorSettings(node: node)
            case "webhooks": configuration.webhooks = try WebhookSettings(node: node)
            case "repositories": configuration.repositories = try node.sequence().map(RepositorySettings.init(node:))
            case "projects": configuration.projects += try node.sequence().map(ProjectSettings.init(node:))
            case "definitions":
                var entries: [(path: String, cluster: String?)] = []
                for entry in try node.sequence() {
                    var path: String
                    var cluster: String?
                    if case .mapping = entry.node {
                        let fields = try entry.mapping(allowedKeys: ["path", "cluster"])
                        path = try fields.required("path").string()
                        cluster = try fields["cluster"]?.string()
                    } else {
                        path = try entry.string()
                    }
                    if !path.hasPrefix("/") { path = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(path).path }
                    entries.append((path, cluster))
                }
                let definitions = try Definitions.load(entries)
                configuration.warnings += definitions.warnings
                configuration.projects += definitions.projects
                for app in definitions.apps {
                    if let first = configuration.apps.first(where: { $0.name == app.name }) {
                        throw ConfigurationError(file: app.file, line: app.line, key: "metadata.name", message: "app \(app.name) is already declared at \(first.declaredAt)")
                    }
                    configuration.apps.append(app)
                }
            case "clusters":
                for entry in try node.sequence() {
                    let cluster = try ClusterSettings(node: entry)
                    guard configuration.cluster(named: cluster.name) == nil else { throw entry.error("cluster \(cluster.name) is declared twice") }
                    configuration.clusters.append(cluster)
                }
            case "apps":
                for entry in try node.sequence() {
                    let app = try AppSettings(node: entry)
                    if let first = configuration.apps.first(where: { $0.name == app.name }) {
                        throw entry.error("app \(app.name) is already declared at \(first.declaredAt)")
                    }
                    configuration.apps.append(app)
                }
            case "helm":
                configuration.renderers[0] = try RendererSettings(helm: node)
            case "plugins":
                for entry in try node.sequence() {
                    let plugin = try RendererSettings(plugin: entry)
                    guard configuration.renderer(named: plugin.name) == nil else { throw entry.error("plugin \(plugin.name) is declared twice") }
                    configuration.renderers.append(plugin)
                }
            case "sinks":
                for entry in try node.sequence() {
                    let sink = try SinkSettings(node: entry)
                    guard configuration.notifications.sink(named: sink.name) == nil else { throw entry.error("sink \(sink.name) is declared twice") }
                    configuration.notifications.sinks.append(sink)
                }
            case "triggers":
                configuration.notifications.triggers = try node.sequence().map(TriggerSettings.init(node:))
            case "subscriptions":
                configuration.notifications.subscriptions = try node.sequence().map(SubscriptionSettings.init(node:))
                subscriptionNodes = try node.sequence()
            default:
                for (trigger, template) in try node.mapping(allowedKeys: Set(NotificationSettings.builtInTriggers.keys)).entries {
                    configuration.notifications.templates[trigger] = try TemplateSettings(node: template)
                }
            }
        }
        // Subscriptions may name sinks declared after them: check once everything is read.
        for (subscription, node) in zip(configuration.notifications.subscriptions, subscriptionNodes) {
            for sink in subscription.sinks where configuration.notifications.sink(named: sink) == nil {
                throw node.error("no sink named \(sink)")
            }
            for trigger in subscription.triggers where configuration.notifications.trigger(named: trigger) == nil {
                throw node.error("no trigger named \(trigger); triggers are \(NotificationSettings.builtInTriggers.keys.sorted().joined(separator: ", "))")
            }
        }
        for project in configuration.projects where configuration.projects.filter({ $0.name == project.name }).count > 1 {
            throw ConfigurationError(file: file, line: nil, key: "projects", message: "project \(project.name) is declared more than once (in projects or definitions)")
        }
        for app in configuration.apps where configuration.project(named: app.project) == nil {
            throw ConfigurationError(file: file, line: app.line, key: "apps.\(app.name).project", message: "no project named \(app.project)")
        }
        for app in configuration.apps {
            guard let plugin = app.source.plugin, plugin.name == RendererSettings.helmName || configuration.renderer(named: plugin.name) == nil else { continue }
            let declared = configuration.renderers.dropFirst().map(\.name).joined(separator: ", ").ifEmpty("none")
            throw ConfigurationError(file: app.file, line: app.line, key: "apps.\(app.name).source.plugin.name", message: "no plugin named \(plugin.name) in plugins; declared: \(declared)")
        }
        // Apps may name clusters declared after them: resolve once everything is read.
        for index in configuration.apps.indices {
            try configuration.resolveCluster(ofAppAt: index)
        }
        return configuration
    }

    /// A declared project, or the implicit `default` one.
    public func project(named name: String) -> ProjectSettings? {
        self.projects.first { $0.name == name } ?? (name == "default" ? .implicitDefault : nil)
    }

    /// The app with this name.
    public func app(named name: String) -> AppSettings? {
        self.apps.first { $0.name == name }
    }

    /// The `helm` settings, or a plugin in `plugins`.
    public func renderer(named name: String) -> RendererSettings? {
        self.renderers.first { $0.name == name }
    }

    /// A declared Kubernetes cluster.
    public func cluster(named name: String) -> ClusterSettings? {
        self.clusters.first { $0.name == name }
    }

    /// A Kubernetes destination names a declared cluster, by name or by server URL.
    private mutating func resolveCluster(ofAppAt index: Int) throws {
        let app = self.apps[index]
        guard case .kubernetes(_, let namespace) = app.destination else { return }
        func fail(_ message: String) -> ConfigurationError {
            ConfigurationError(file: app.file, line: app.line, key: "apps.\(app.name).destination", message: message)
        }
        let cluster: ClusterSettings
        if let name = app.cluster {
            guard let declared = self.cluster(named: name) else {
                throw fail("no cluster named \(name); declared: \(self.clusters.map(\.name).joined(separator: ", ").ifEmpty("none"))")
            }
            if let server = app.destinationServer, declared.server != nil, declared.server != server {
                throw fail("cluster \(name) is at \(declared.server!), not \(server)")
            }
            cluster = declared
        } else {
            let server = app.destinationServer ?? ""
            let matches = self.clusters.filter { $0.server == server }
            guard matches.count == 1 else {
                throw fail(matches.isEmpty ? "no cluster has server \(server); give the cluster's name instead" : "several clusters have server \(server); give the cluster's name instead")
            }
            cluster = matches[0]
        }
        self.apps[index].cluster = cluster.name
        self.apps[index].destination = .kubernetes(cluster: cluster.name, namespace: namespace)
    }

    /// The clusters apps name in `destination.name` (their worker groups), sorted.
    public var clusterNames: [String] {
        Set(self.apps.compactMap(\.cluster)).sorted()
    }

    /// The repository entry for a URL, matched by repository key (so https and ssh URLs match).
    public func repository(for url: String) -> RepositorySettings? {
        let key = RepositoryKey(url: url)
        return self.repositories.first { $0.url == url || (key != nil && RepositoryKey(url: $0.url) == key) }
    }

    static let topLevelKeys: Set<String> = ["kafka", "listener", "server", "mirrors", "webhooks", "repositories", "projects", "clusters", "definitions", "apps", "helm", "plugins", "sinks", "triggers", "subscriptions", "templates"]
}

extension ConfigurationError {
    init(yamlError: YamlError, file: String) {
        switch yamlError {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            self.init(file: file, line: mark.line, key: "", message: "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            self.init(file: file, line: context.mark.line, key: duplicates.joined(separator: ", "), message: "key appears more than once")
        default:
            self.init(file: file, line: nil, key: "", message: "invalid YAML: \(yamlError)")
        }
    }
}

extension String {
    fileprivate func ifEmpty(_ replacement: String) -> String { self.isEmpty ? replacement : self }
}
