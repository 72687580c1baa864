/// The `server` section: the status API (`tributary server`), on a port of its own.
public struct ServerSettings: Sendable {
    /// A bearer token and what it may do.
    public struct Token: Sendable {
        public enum Role: String, Sendable {
            /// Read apps, pushes and the event stream.
            case viewer
            /// Also sync, suspend and resume apps.
            case `operator`
        }

        /// `token`: a secret reference (`{ env: NAME }`, `{ file: PATH }`).
        public var token: SecretReference
        /// `name`: who holds it, recorded with the suspensions it makes. Default none.
        public var name: String?
        /// `role`. Default viewer.
        public var role: Role = .viewer
        /// `projects`: globs of the projects it sees. Default all.
        public var projects: [Glob] = [Glob("**")]
    }

    /// `address`: `host:port`. Default `127.0.0.1:8081` (the webhook listener has 8080).
    public var address = HostPort(host: "127.0.0.1", port: 8081)
    /// `tokens`. Default none: nothing is served unless `allowUnauthenticated`.
    public var tokens: [Token] = []
    /// `allowUnauthenticated`: serve without a token, as an operator, for development only. Default false.
    public var allowUnauthenticated = false
    /// `historyPerApp`: recent sync events kept per app. Default 50.
    public var historyPerApp = 50
    /// `pushes`: recent pushes kept (by delivery id). Default 2000.
    public var pushes = 2000

    public init() {}

    init(node: ConfigurationNode) throws {
        let mapping = try node.mapping(allowedKeys: ["address", "tokens", "allowUnauthenticated", "historyPerApp", "pushes"])
        if let value = mapping["address"] { self.address = try HostPort(value) }
        for entry in try mapping["tokens"]?.sequence() ?? [] {
            let fields = try entry.mapping(allowedKeys: ["name", "token", "role", "projects"])
            var token = Token(token: try fields.required("token").secretReference())
            token.name = try fields["name"]?.string()
            if let role = fields["role"] {
                guard let value = Token.Role(rawValue: try role.string()) else { throw role.error("a role is viewer or operator") }
                token.role = value
            }
            if let projects = fields["projects"] {
                let patterns = try projects.stringList()
                guard !patterns.contains(where: { $0.hasPrefix("!") }) else { throw projects.error("a token's projects are the ones it sees; list them (no !patterns)") }
                token.projects = patterns.map(Glob.project)
            }
            self.tokens.append(token)
        }
        if let value = mapping["allowUnauthenticated"] { self.allowUnauthenticated = try value.bool() }
        if let value = mapping["historyPerApp"] { self.historyPerApp = try value.int(in: 1...10_000) }
        if let value = mapping["pushes"] { self.pushes = try value.int(in: 1...1_000_000) }
    }
}
