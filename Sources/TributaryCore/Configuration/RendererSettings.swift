/// `helm` and `plugins[]`: the programs that render Helm charts and config-management plugins'
/// sources. Each runs in a copy of the app's repository at the revision, with a clean environment
/// (no worker secrets), a timeout and a cap on its output.
public struct RendererSettings: Sendable {
    /// The plugin name `helm` settings are stored under.
    public static let helmName = "helm"

    /// `name`: what apps' `source.plugin.name` gives.
    public var name: String
    /// `generate.command` + `generate.args`: prints the manifests as YAML. For `helm`, the helm
    /// binary (`command: /usr/local/bin/helm`). Default for helm: `helm` on PATH.
    public var generate: [String]
    /// `init.command` + `init.args`: run first, in the same directory (Argo CD's CMP `init`). Default none.
    public var initialize: [String]?
    /// `timeout`: for each command. Default 90 s, as Argo CD's `ARGOCD_EXEC_TIMEOUT`.
    public var timeout: Duration = .seconds(90)
    /// `maxOutputBytes`: a command printing more fails the render. Default 32 MiB.
    public var maxOutputBytes = 32 << 20
    /// `passEnvironment`: names of the worker's environment variables given to the command; only
    /// `PATH` is given otherwise. Default none.
    public var passEnvironment: [String] = []

    public init(name: String, generate: [String]) {
        self.name = name
        self.generate = generate
    }

    /// `helm: { command, timeout, maxOutputBytes, passEnvironment }`.
    init(helm node: ConfigurationNode) throws {
        let fields = try node.mapping(allowedKeys: ["command", "timeout", "maxOutputBytes", "passEnvironment"])
        self.init(name: Self.helmName, generate: [try fields["command"]?.string() ?? "helm"])
        try self.readLimits(fields)
    }

    /// `plugins[]: { name, init: { command, args }, generate: { command, args }, timeout, maxOutputBytes, passEnvironment }`.
    init(plugin node: ConfigurationNode) throws {
        let fields = try node.mapping(allowedKeys: ["name", "init", "generate", "timeout", "maxOutputBytes", "passEnvironment"])
        func command(_ key: String) throws -> [String]? {
            guard let node = fields[key] else { return nil }
            let command = try node.mapping(allowedKeys: ["command", "args"])
            let words = try command.required("command").stringList() + (command["args"]?.stringList() ?? [])
            guard !words.isEmpty else { throw node.error("command is empty") }
            return words
        }
        let name = try fields.required("name").string()
        guard name != Self.helmName else { throw try fields.required("name").error("helm is configured in the helm section") }
        guard let generate = try command("generate") else { throw ConfigurationError(file: node.file, line: node.line, key: "\(node.path).generate", message: "required key is missing") }
        self.init(name: name, generate: generate)
        self.initialize = try command("init")
        try self.readLimits(fields)
    }

    private mutating func readLimits(_ fields: ConfigurationMapping) throws {
        if let timeout = fields["timeout"] {
            self.timeout = try timeout.duration()
            guard self.timeout > .zero else { throw timeout.error("the timeout must be positive") }
        }
        if let limit = fields["maxOutputBytes"] { self.maxOutputBytes = try limit.int(in: 1024...(1 << 30)) }
        self.passEnvironment = try fields["passEnvironment"]?.stringList() ?? []
    }
}
