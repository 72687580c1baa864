/// `sinks`, `triggers`, `subscriptions` and `templates`: who hears about which sync events, how.
public struct NotificationSettings: Sendable {
    public var sinks: [SinkSettings] = []
    /// Declared triggers; the built-in ones exist without a declaration.
    public var triggers: [TriggerSettings] = []
    public var subscriptions: [SubscriptionSettings] = []
    /// Templates by trigger name.
    public var templates: [String: TemplateSettings] = [:]

    public init() {}

    /// The built-in triggers and the phase each fires on.
    public static let builtInTriggers: [String: SyncEvent.Phase] = [
        "on-sync-succeeded": .succeeded,
        "on-sync-failed": .failed,
        "on-drift-detected": .driftDetected,
        "on-healed": .healed,
        "on-health-changed": .healthChanged,
        "on-out-of-sync": .outOfSync,
    ]

    /// The trigger named `name`: its declaration narrowing the built-in one, or the built-in alone.
    public func trigger(named name: String) -> TriggerSettings? {
        self.triggers.first { $0.name == name } ?? (Self.builtInTriggers[name] != nil ? TriggerSettings(name: name) : nil)
    }

    public func sink(named name: String) -> SinkSettings? {
        self.sinks.first { $0.name == name }
    }
}

/// `sinks[]`: a destination for notifications.
public struct SinkSettings: Sendable {
    public var name: String
    public var kind: Kind
    /// `retry.limit`: delivery attempts after the first. Default 5.
    public var retryLimit = 5
    /// `retry.backoff.duration`: the first wait. Default 1 s, doubling, at most `retry.backoff.maxDuration` (default 1 min).
    public var retryBackoff: Duration = .seconds(1)
    public var retryMaxBackoff: Duration = .seconds(60)

    public enum Kind: Sendable {
        /// A Slack incoming webhook (or anything that takes `{"text": ...}`).
        case slack(url: SecretReference)
        case email(Email)
        /// The CloudEvent in structured JSON, optionally signed as Standard Webhooks.
        case webhook(url: SecretReference, signingSecret: SecretReference?)
    }

    public struct Email: Sendable {
        public var host: String
        /// Default 587 for `starttls`, 465 for `tls`, 25 for `none`.
        public var port: Int
        public var tls: TLSMode
        public var username: SecretReference?
        public var password: SecretReference?
        public var from: String
        public var to: [String]
        /// `caFile`: PEM certificates to trust for the server, instead of the system's. Default none.
        public var caFile: String?

        public enum TLSMode: String, Sendable {
            case none, starttls, tls
        }
    }

    init(node: ConfigurationNode) throws {
        let mapping = try node.mapping(allowedKeys: ["name", "slack", "email", "webhook", "retry"])
        self.name = try mapping.required("name").string()
        let kinds = ["slack", "email", "webhook"].filter { mapping[$0] != nil }
        guard kinds.count == 1 else { throw node.error("a sink is exactly one of slack, email or webhook") }
        switch kinds[0] {
        case "slack":
            let slack = try mapping.required("slack").mapping(allowedKeys: ["url"])
            self.kind = .slack(url: try slack.required("url").secretReference())
        case "email":
            let email = try mapping.required("email").mapping(allowedKeys: ["host", "port", "tls", "username", "password", "from", "to", "caFile"])
            let tlsNode = email["tls"]
            guard let tls = Email.TLSMode(rawValue: try tlsNode?.string() ?? "starttls") else {
                throw tlsNode!.error("tls is one of none, starttls, tls")
            }
            let defaultPort = switch tls {
            case .none: 25
            case .starttls: 587
            case .tls: 465
            }
            let to = try email.required("to").stringList()
            guard !to.isEmpty else { throw try email.required("to").error("at least one recipient") }
            self.kind = .email(Email(
                host: try email.required("host").string(),
                port: try email["port"]?.int(in: 1...65535) ?? defaultPort,
                tls: tls,
                username: try email["username"]?.secretReference(),
                password: try email["password"]?.secretReference(),
                from: try email.required("from").string(),
                to: to,
                caFile: try email["caFile"]?.string()
            ))
        default:
            let webhook = try mapping.required("webhook").mapping(allowedKeys: ["url", "signingSecret"])
            self.kind = .webhook(url: try webhook.required("url").secretReference(), signingSecret: try webhook["signingSecret"]?.secretReference())
        }
        if let retryNode = mapping["retry"] {
            let retry = try retryNode.mapping(allowedKeys: ["limit", "backoff"])
            if let limit = retry["limit"] { self.retryLimit = try limit.int(in: 0...100) }
            if let backoffNode = retry["backoff"] {
                let backoff = try backoffNode.mapping(allowedKeys: ["duration", "maxDuration"])
                if let value = backoff["duration"] { self.retryBackoff = try value.duration() }
                if let value = backoff["maxDuration"] { self.retryMaxBackoff = try value.duration() }
            }
        }
    }
}

/// `triggers[]`: narrows a built-in trigger.
public struct TriggerSettings: Sendable {
    public var name: String
    /// `when`: a condition on the sync event, e.g. `attempt >= 2 and app matches "pay-*"`.
    public var when: TriggerCondition?
    /// `minInterval`: at most one notification per app and sink within this time.
    public var minInterval: Duration?

    public init(name: String, when: TriggerCondition? = nil, minInterval: Duration? = nil) {
        self.name = name
        self.when = when
        self.minInterval = minInterval
    }

    /// The phase this trigger fires on.
    public var phase: SyncEvent.Phase? { NotificationSettings.builtInTriggers[self.name] }

    init(node: ConfigurationNode) throws {
        let mapping = try node.mapping(allowedKeys: ["name", "when", "minInterval"])
        let nameNode = try mapping.required("name")
        self.name = try nameNode.string()
        guard NotificationSettings.builtInTriggers[self.name] != nil else {
            throw nameNode.error("unknown trigger \(self.name); triggers are \(NotificationSettings.builtInTriggers.keys.sorted().joined(separator: ", "))")
        }
        if let when = mapping["when"] {
            do {
                self.when = try TriggerCondition(try when.string())
            } catch let error as TriggerCondition.ParseError {
                throw when.error(error.message)
            }
        }
        self.minInterval = try mapping["minInterval"]?.duration()
    }
}

/// `subscriptions[]`: which apps send which triggers to which sinks.
public struct SubscriptionSettings: Sendable {
    /// App name globs; empty with `projects` empty means every app.
    public var apps: [Glob] = []
    public var projects: [Glob] = []
    public var triggers: [String]
    public var sinks: [String]

    /// Whether the subscription covers the app.
    public func covers(app: String, project: String) -> Bool {
        if self.apps.isEmpty && self.projects.isEmpty { return true }
        return self.apps.contains { $0.matches(app) } || self.projects.contains { $0.matches(project) }
    }

    init(node: ConfigurationNode) throws {
        let mapping = try node.mapping(allowedKeys: ["apps", "projects", "triggers", "sinks"])
        self.apps = try mapping["apps"]?.stringList().map(Glob.init) ?? []
        self.projects = try mapping["projects"]?.stringList().map(Glob.init) ?? []
        self.triggers = try mapping.required("triggers").stringList()
        self.sinks = try mapping.required("sinks").stringList()
    }
}

/// `templates.<trigger>`: Mustache templates; built-in defaults apply where absent.
public struct TemplateSettings: Sendable {
    public var slack: String?
    public var emailSubject: String?
    public var emailBody: String?
    /// The line each template starts on (`slack`, `emailSubject`, `emailBody`), for errors.
    public var lines: [String: Int] = [:]

    public init(slack: String? = nil, emailSubject: String? = nil, emailBody: String? = nil) {
        self.slack = slack
        self.emailSubject = emailSubject
        self.emailBody = emailBody
    }

    init(node: ConfigurationNode) throws {
        let mapping = try node.mapping(allowedKeys: ["slack", "emailSubject", "emailBody"])
        self.slack = try mapping["slack"]?.string()
        self.emailSubject = try mapping["emailSubject"]?.string()
        self.emailBody = try mapping["emailBody"]?.string()
        for (key, value) in mapping.entries { self.lines[key] = value.line }
    }
}
