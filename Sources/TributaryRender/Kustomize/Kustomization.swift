import Yams

/// A parsed `kustomization.yaml`: the supported subset of Kustomize v5's fields, each remembered
/// with its line so errors can point at it. Any other field is refused by name rather than ignored,
/// because a silently dropped transformation would deploy something other than what was reviewed.
struct Kustomization {
    struct Located<Value> {
        var value: Value
        var line: Int
    }

    /// One label transformation: `commonLabels` is one with selectors and templates.
    struct LabelSet {
        var pairs: [(String, String)]
        var includeSelectors: Bool
        var includeTemplates: Bool
    }

    struct Image {
        var name: String
        var newName: String?
        var newTag: String?
        var digest: String?
    }

    /// `patches`, `patchesStrategicMerge` or `patchesJson6902` entry, not yet read or parsed.
    struct PatchSpec {
        var path: String?
        var inline: String?
        var target: PatchTarget?
        var line: Int
        /// `patchesJson6902` entries are JSON 6902 whatever they look like.
        var forceJSON6902 = false
    }

    struct Generator {
        enum Kind: String { case configMap = "ConfigMap", secret = "Secret" }
        enum Behavior: String { case create, merge, replace }
        var kind: Kind
        var name: String
        var namespace: String?
        var behavior: Behavior
        var literals: [String]
        var files: [String]
        var envs: [String]
        var type: String?
        var options: GeneratorOptions
        var line: Int
    }

    struct GeneratorOptions {
        var labels: [(String, String)] = []
        var annotations: [(String, String)] = []
        var disableNameSuffixHash: Bool?
        var immutable: Bool?
    }

    struct Replica {
        var name: String
        var count: YAMLValue
    }

    /// The file, from the repository root; its directory is where relative paths start.
    var file: String
    var directory: String
    var resources: [Located<String>] = []
    var namespace: String?
    var namePrefix = ""
    var nameSuffix = ""
    var labels: [LabelSet] = []
    var annotations: [(String, String)] = []
    var images: [Image] = []
    var strategicMergePatches: [PatchSpec] = []
    var patches: [PatchSpec] = []
    var json6902Patches: [PatchSpec] = []
    var generators: [Generator] = []
    var generatorOptions = GeneratorOptions()
    var replicas: [Replica] = []
}

extension Kustomization {
    /// Parses a kustomization file.
    ///
    /// - Throws: `RenderError` naming the file and line of invalid YAML, a malformed value, or a field
    ///   outside the supported subset.
    init(file: String, directory: String, contents: [UInt8]) throws {
        self.file = file
        self.directory = directory
        let reader = Reader(file: file)
        let root: Node
        do {
            root = try Yams.compose(yaml: String(decoding: contents, as: UTF8.self)) ?? Node.mapping(.init([]))
        } catch let error as YamlError {
            throw RenderError(yamlError: error, file: file)
        }
        if case .scalar(let scalar) = root, scalar.string.isEmpty { return }
        let mapping = try reader.mapping(root, "kustomization")
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            let line = keyNode.mark?.line ?? 1
            switch key {
            case "apiVersion":
                _ = try reader.string(value, key)
            case "kind":
                let kind = try reader.string(value, key)
                guard kind == "Kustomization" else {
                    throw RenderError(file: file, line: line, message: "unsupported kind \(kind); only Kustomization is supported")
                }
            case "resources", "bases":
                self.resources += try reader.sequence(value, key).map { Located(value: try reader.string($0, key), line: $0.mark?.line ?? line) }
            case "namespace":
                self.namespace = try reader.string(value, key)
            case "namePrefix":
                self.namePrefix = try reader.string(value, key)
            case "nameSuffix":
                self.nameSuffix = try reader.string(value, key)
            case "commonLabels":
                self.labels.append(LabelSet(pairs: try reader.stringMap(value, key), includeSelectors: true, includeTemplates: true))
            case "labels":
                for entry in try reader.sequence(value, key) {
                    let fields = try reader.fields(entry, "labels[]", allowed: ["pairs", "includeSelectors", "includeTemplates"])
                    self.labels.append(LabelSet(
                        pairs: try fields["pairs"].map { try reader.stringMap($0, "labels[].pairs") } ?? [],
                        includeSelectors: try fields["includeSelectors"].map { try reader.bool($0, "includeSelectors") } ?? false,
                        includeTemplates: try fields["includeTemplates"].map { try reader.bool($0, "includeTemplates") } ?? false
                    ))
                }
            case "commonAnnotations":
                self.annotations += try reader.stringMap(value, key)
            case "images":
                for entry in try reader.sequence(value, key) {
                    let fields = try reader.fields(entry, "images[]", allowed: ["name", "newName", "newTag", "digest"])
                    guard let name = fields["name"] else { throw RenderError(file: file, line: entry.mark?.line, message: "images entry needs a name") }
                    self.images.append(Image(
                        name: try reader.string(name, "images[].name"),
                        newName: try fields["newName"].map { try reader.string($0, "images[].newName") },
                        newTag: try fields["newTag"].map { try reader.string($0, "images[].newTag") },
                        digest: try fields["digest"].map { try reader.string($0, "images[].digest") }
                    ))
                }
            case "patches":
                self.patches += try reader.sequence(value, key).map { try reader.patch($0, key, allowed: ["path", "patch", "target"]) }
            case "patchesJson6902":
                self.json6902Patches += try reader.sequence(value, key).map {
                    var patch = try reader.patch($0, key, allowed: ["path", "patch", "target"])
                    guard patch.target != nil else { throw RenderError(file: file, line: patch.line, message: "patchesJson6902 entry needs a target") }
                    patch.forceJSON6902 = true
                    return patch
                }
            case "patchesStrategicMerge":
                self.strategicMergePatches += try reader.sequence(value, key).map { entry in
                    let text = try reader.string(entry, key)
                    let line = entry.mark?.line ?? line
                    // Kustomize takes an entry holding a newline or a `kind:` as an inline patch.
                    return text.contains("\n") || text.contains("kind:")
                        ? PatchSpec(inline: text, line: line) : PatchSpec(path: text, line: line)
                }
            case "configMapGenerator", "secretGenerator":
                let kind: Generator.Kind = key == "configMapGenerator" ? .configMap : .secret
                self.generators += try reader.sequence(value, key).map { try reader.generator($0, kind, key) }
            case "generatorOptions":
                self.generatorOptions = try reader.generatorOptions(value, key)
            case "replicas":
                for entry in try reader.sequence(value, key) {
                    let fields = try reader.fields(entry, "replicas[]", allowed: ["name", "count"])
                    guard let name = fields["name"], let count = fields["count"], count.int != nil else {
                        throw RenderError(file: file, line: entry.mark?.line, message: "replicas entry needs a name and a whole-number count")
                    }
                    self.replicas.append(Replica(name: try reader.string(name, "replicas[].name"), count: try reader.value(count)))
                }
            default:
                throw RenderError(file: file, line: line, message: "unsupported kustomization field '\(key)'")
            }
        }
    }
}

/// Typed reads of kustomization values, each failure located in the file.
private struct Reader {
    var file: String

    func fail(_ node: Node, _ message: String) -> RenderError {
        RenderError(file: self.file, line: node.mark?.line, message: message)
    }

    func mapping(_ node: Node, _ field: String) throws -> Node.Mapping {
        guard case .mapping(let mapping) = node else { throw self.fail(node, "\(field) must be a mapping") }
        return mapping
    }

    func sequence(_ node: Node, _ field: String) throws -> [Node] {
        if case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any, ["", "~", "null"].contains(scalar.string) { return [] }
        guard case .sequence(let sequence) = node else { throw self.fail(node, "\(field) must be a list") }
        return Array(sequence)
    }

    func string(_ node: Node, _ field: String) throws -> String {
        guard case .scalar(let scalar) = node else { throw self.fail(node, "\(field) must be a string") }
        return scalar.string
    }

    func bool(_ node: Node, _ field: String) throws -> Bool {
        guard case .scalar(let scalar) = node, let value = ["true": true, "false": false][scalar.string.lowercased()] else {
            throw self.fail(node, "\(field) must be true or false")
        }
        return value
    }

    func stringMap(_ node: Node, _ field: String) throws -> [(String, String)] {
        if case .scalar(let scalar) = node, ["", "~", "null"].contains(scalar.string) { return [] }
        return try self.mapping(node, field).map { (try self.string($0.key, field), try self.string($0.value, "\(field) values")) }
    }

    func value(_ node: Node) throws -> YAMLValue {
        do { return try YAMLValue(node) } catch { throw RenderError(file: self.file, line: error.line ?? node.mark?.line, message: error.message) }
    }

    /// The entry's fields, refusing any not in `allowed`.
    func fields(_ node: Node, _ context: String, allowed: Set<String>) throws -> [String: Node] {
        var fields: [String: Node] = [:]
        for (key, value) in try self.mapping(node, context) {
            let name = key.string ?? ""
            guard allowed.contains(name) else { throw self.fail(key, "unsupported kustomization field '\(context).\(name)'") }
            fields[name] = value
        }
        return fields
    }

    func patch(_ node: Node, _ field: String, allowed: Set<String>) throws -> Kustomization.PatchSpec {
        let fields = try self.fields(node, "\(field)[]", allowed: allowed)
        let path = try fields["path"].map { try self.string($0, "\(field)[].path") }
        let inline = try fields["patch"].map { try self.string($0, "\(field)[].patch") }
        guard (path == nil) != (inline == nil) else { throw self.fail(node, "\(field) entry needs exactly one of path and patch") }
        var target: PatchTarget?
        if let targetNode = fields["target"] {
            let selector = try self.fields(
                targetNode, "\(field)[].target",
                allowed: ["group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"]
            )
            func text(_ key: String) throws -> String? { try selector[key].map { try self.string($0, "target.\(key)") } }
            target = PatchTarget(
                group: try text("group"), version: try text("version"), kind: try text("kind"), name: try text("name"),
                namespace: try text("namespace"), labelSelector: try text("labelSelector"), annotationSelector: try text("annotationSelector")
            )
        }
        return Kustomization.PatchSpec(path: path, inline: inline, target: target, line: node.mark?.line ?? 1)
    }

    func generator(_ node: Node, _ kind: Kustomization.Generator.Kind, _ field: String) throws -> Kustomization.Generator {
        var allowed: Set<String> = ["name", "namespace", "behavior", "literals", "files", "envs", "env", "options"]
        if kind == .secret { allowed.insert("type") }
        let fields = try self.fields(node, "\(field)[]", allowed: allowed)
        guard let nameNode = fields["name"] else { throw self.fail(node, "\(field) entry needs a name") }
        func list(_ key: String) throws -> [String] {
            try fields[key].map { try self.sequence($0, "\(field)[].\(key)").map { try self.string($0, "\(field)[].\(key)") } } ?? []
        }
        let behaviorText = try fields["behavior"].map { try self.string($0, "behavior") } ?? "create"
        guard let behavior = Kustomization.Generator.Behavior(rawValue: behaviorText.isEmpty ? "create" : behaviorText) else {
            throw self.fail(fields["behavior"] ?? node, "behavior must be create, merge or replace")
        }
        return Kustomization.Generator(
            kind: kind,
            name: try self.string(nameNode, "\(field)[].name"),
            namespace: try fields["namespace"].map { try self.string($0, "\(field)[].namespace") },
            behavior: behavior,
            literals: try list("literals"),
            files: try list("files"),
            envs: try list("envs") + (try fields["env"].map { [try self.string($0, "\(field)[].env")] } ?? []),
            type: try fields["type"].map { try self.string($0, "\(field)[].type") },
            options: try fields["options"].map { try self.generatorOptions($0, "\(field)[].options") } ?? .init(),
            line: node.mark?.line ?? 1
        )
    }

    func generatorOptions(_ node: Node, _ field: String) throws -> Kustomization.GeneratorOptions {
        let fields = try self.fields(node, field, allowed: ["labels", "annotations", "disableNameSuffixHash", "immutable"])
        return Kustomization.GeneratorOptions(
            labels: try fields["labels"].map { try self.stringMap($0, "\(field).labels") } ?? [],
            annotations: try fields["annotations"].map { try self.stringMap($0, "\(field).annotations") } ?? [],
            disableNameSuffixHash: try fields["disableNameSuffixHash"].map { try self.bool($0, "disableNameSuffixHash") },
            immutable: try fields["immutable"].map { try self.bool($0, "immutable") }
        )
    }
}
