import Yams

extension AppSettings.Source {
    /// `directory.jsonnet`, as in Argo CD: how the path's `.jsonnet` files are evaluated.
    public struct Jsonnet: Sendable {
        /// `{ name, value, code }`: a string, or Jsonnet code when `code` is true.
        public struct Variable: Sendable {
            public var name: String
            public var value: String
            public var code: Bool
        }

        /// `extVars`. Default none.
        public var extVars: [Variable] = []
        /// `tlas`: top-level arguments. Default none.
        public var tlas: [Variable] = []
        /// `libs`: import directories from the repository root. Default none.
        public var libs: [String] = []

        public var isEmpty: Bool { self.extVars.isEmpty && self.tlas.isEmpty && self.libs.isEmpty }

        init(node: ConfigurationNode) throws {
            let fields = try node.mapping(allowedKeys: ["extVars", "tlas", "libs"])
            func variables(_ key: String) throws -> [Variable] {
                try (fields[key]?.sequence() ?? []).map { entry in
                    let variable = try entry.mapping(allowedKeys: ["name", "value", "code"])
                    return Variable(name: try variable.required("name").string(), value: try variable["value"]?.string() ?? "", code: try variable["code"]?.bool() ?? false)
                }
            }
            self.extVars = try variables("extVars")
            self.tlas = try variables("tlas")
            self.libs = try fields["libs"]?.stringList() ?? []
            if let node = fields["libs"], self.libs.contains(where: { $0.hasPrefix("/") || $0.split(separator: "/").contains("..") }) {
                throw node.error("libs are directories inside the repository")
            }
        }

        init() {}
    }

    /// `helm`, as in Argo CD: the path is a Helm chart, rendered by `helm template`.
    public struct Helm: Sendable {
        /// `{ name, value, forceString }`: `--set` (or `--set-string`).
        public struct Parameter: Sendable {
            public var name: String
            public var value: String
            public var forceString: Bool
        }

        /// `releaseName`. Default the app's name.
        public var releaseName: String?
        /// `namespace`. Default the destination's namespace.
        public var namespace: String?
        /// `valueFiles`: from the chart's directory. Default none.
        public var valueFiles: [String] = []
        /// `values` (a YAML string) or `valuesObject` (a mapping): given after the value files. Default none.
        public var values: String?
        /// `parameters`: given last. Default none.
        public var parameters: [Parameter] = []
        /// `skipCrds`: leave out the chart's `crds/`. Default false.
        public var skipCrds = false
        /// `ignoreMissingValueFiles`. Default false: a missing value file fails the render.
        public var ignoreMissingValueFiles = false

        static let keys: Set<String> = ["releaseName", "namespace", "valueFiles", "values", "valuesObject", "parameters", "skipCrds", "ignoreMissingValueFiles"]

        init(node: ConfigurationNode, strict: Bool = true) throws {
            let fields = try node.mapping(allowedKeys: strict ? Self.keys : nil)
            self.releaseName = try fields["releaseName"]?.string()
            self.namespace = try fields["namespace"]?.string()
            self.valueFiles = try fields["valueFiles"]?.stringList() ?? []
            if let values = fields["values"], let object = fields["valuesObject"] {
                throw object.error("give values or valuesObject, not both (values is at line \(values.line ?? 0))")
            }
            self.values = try fields["values"]?.string()
            if let object = fields["valuesObject"] {
                _ = try object.mapping(allowedKeys: nil)
                self.values = try Yams.serialize(node: object.node, sortKeys: false)
            }
            self.parameters = try (fields["parameters"]?.sequence() ?? []).map { entry in
                let parameter = try entry.mapping(allowedKeys: strict ? ["name", "value", "forceString"] : nil)
                return Parameter(name: try parameter.required("name").string(), value: try parameter["value"]?.string() ?? "", forceString: try parameter["forceString"]?.bool() ?? false)
            }
            self.skipCrds = try fields["skipCrds"]?.bool() ?? false
            self.ignoreMissingValueFiles = try fields["ignoreMissingValueFiles"]?.bool() ?? false
        }
    }

    /// `kustomize`, as in Argo CD: edits made to the path's kustomization before it is built, as
    /// `kustomize edit` makes them.
    public struct Kustomize: Sendable {
        public var namePrefix: String?
        public var nameSuffix: String?
        public var namespace: String?
        /// `kustomize edit set image` arguments (`name=newName:tag`, `name:tag`, `name@digest`).
        public var images: [String] = []
        public var commonLabels: [String: String] = [:]
        public var commonAnnotations: [String: String] = [:]
        public var forceCommonLabels = false
        public var forceCommonAnnotations = false
        public var replicas: [(name: String, count: Int)] = []
        /// `patches` entries as YAML.
        public var patches: [String] = []

        static let keys: Set<String> = [
            "namePrefix", "nameSuffix", "namespace", "images", "commonLabels", "commonAnnotations", "forceCommonLabels", "forceCommonAnnotations", "replicas", "patches",
        ]

        init(node: ConfigurationNode, strict: Bool = true) throws {
            let fields = try node.mapping(allowedKeys: strict ? Self.keys : nil)
            self.namePrefix = try fields["namePrefix"]?.string()
            self.nameSuffix = try fields["nameSuffix"]?.string()
            self.namespace = try fields["namespace"]?.string()
            self.images = try fields["images"]?.stringList() ?? []
            for (key, value) in try fields["commonLabels"]?.mapping(allowedKeys: nil).entries ?? [] { self.commonLabels[key] = try value.string() }
            for (key, value) in try fields["commonAnnotations"]?.mapping(allowedKeys: nil).entries ?? [] { self.commonAnnotations[key] = try value.string() }
            self.forceCommonLabels = try fields["forceCommonLabels"]?.bool() ?? false
            self.forceCommonAnnotations = try fields["forceCommonAnnotations"]?.bool() ?? false
            for entry in try fields["replicas"]?.sequence() ?? [] {
                let replica = try entry.mapping(allowedKeys: ["name", "count"])
                self.replicas.append((try replica.required("name").string(), try replica.required("count").int(in: 0...1_000_000)))
            }
            for entry in try fields["patches"]?.sequence() ?? [] {
                _ = try entry.mapping(allowedKeys: ["path", "patch", "target", "options"])
                self.patches.append(try Yams.serialize(node: entry.node, sortKeys: false))
            }
        }
    }

    /// `plugin`, as in Argo CD: rendered by a config-management plugin from `plugins`.
    public struct Plugin: Sendable {
        /// `name`: a plugin in `plugins`.
        public var name: String
        /// `env`: given to the plugin as `ARGOCD_ENV_<name>`. Default none.
        public var env: [(name: String, value: String)] = []
        /// `parameters` with string values: given as `PARAM_<NAME>` and in `ARGOCD_APP_PARAMETERS`. Default none.
        public var parameters: [(name: String, value: String)] = []

        init(node: ConfigurationNode) throws {
            let fields = try node.mapping(allowedKeys: ["name", "env", "parameters"])
            self.name = try fields.required("name").string()
            for entry in try fields["env"]?.sequence() ?? [] {
                let variable = try entry.mapping(allowedKeys: ["name", "value"])
                self.env.append((try variable.required("name").string(), try variable["value"]?.string() ?? ""))
            }
            for entry in try fields["parameters"]?.sequence() ?? [] {
                let parameter = try entry.mapping(allowedKeys: ["name", "string", "array", "map"])
                guard let value = parameter["string"] else {
                    throw entry.error("only string parameters are supported (array and map parameters are not yet)")
                }
                self.parameters.append((try parameter.required("name").string(), try value.string()))
            }
        }
    }

    /// Reads `directory`, `kustomize`, `helm` and `plugin` from a source mapping: at most one of them.
    mutating func readKind(from source: ConfigurationMapping, strict: Bool = true) throws {
        let given = ["directory", "kustomize", "helm", "plugin"].filter { source[$0] != nil }
        if given.count > 1, let second = source[given[1]] {
            throw second.error("a source is one of directory, kustomize, helm or plugin; this one has \(given.joined(separator: " and "))")
        }
        if let kustomize = source["kustomize"] { self.kustomize = try Kustomize(node: kustomize, strict: strict) }
        if let directory = source["directory"] {
            let fields = try directory.mapping(allowedKeys: strict ? ["recurse", "jsonnet"] : nil)
            if let recurse = fields["recurse"] { self.recurse = try recurse.bool() }
            if let jsonnet = fields["jsonnet"] { self.jsonnet = try Jsonnet(node: jsonnet) }
        }
        if let helm = source["helm"] { self.helm = try Helm(node: helm, strict: strict) }
        if let plugin = source["plugin"] { self.plugin = try Plugin(node: plugin) }
    }
}
