import Yams

/// Argo CD's `source.kustomize` options: applied to the app's kustomization file as Argo CD applies
/// them, with `kustomize edit` (set namePrefix, set image, add label, …), before the build.
public struct KustomizeOptions: Hashable, Sendable {
    public var namePrefix: String?
    public var nameSuffix: String?
    public var namespace: String?
    /// `kustomize edit set image` arguments: `name=newName:tag`, `name:tag`, `name@digest`, `name=newName`.
    public var images: [String] = []
    public var commonLabels: [String: String] = [:]
    public var commonAnnotations: [String: String] = [:]
    /// Replace labels and annotations the kustomization already sets (otherwise that is an error).
    public var forceCommonLabels = false
    public var forceCommonAnnotations = false
    /// `{ name, count }`.
    public var replicas: [Replica] = []
    /// `patches` entries (`{ path | patch, target }`) as YAML, appended to the kustomization's.
    public var patches: [String] = []

    public struct Replica: Hashable, Sendable {
        public var name: String
        public var count: Int

        public init(name: String, count: Int) {
            self.name = name
            self.count = count
        }
    }

    public init() {}

    public var isEmpty: Bool { self == KustomizeOptions() }
}

enum KustomizationEdit {
    /// The kustomization file's text with `options` applied.
    ///
    /// - Throws: `RenderError` at `file` for a label or annotation the file already sets (without
    ///   force), a malformed image, or a file that is not a mapping.
    static func apply(_ options: KustomizeOptions, to text: String, file: String) throws -> String {
        let root: Node?
        do {
            root = try Parser(yaml: text, encoding: .utf8).singleRoot()
        } catch let error as YamlError {
            throw RenderError(yamlError: error, file: file)
        }
        guard case .mapping(var kustomization)? = root ?? .mapping(.init([])) else {
            throw RenderError(file: file, message: "a kustomization is a mapping")
        }
        if let prefix = options.namePrefix { kustomization["namePrefix"] = Node(prefix) }
        if let suffix = options.nameSuffix { kustomization["nameSuffix"] = Node(suffix) }
        if let namespace = options.namespace { kustomization["namespace"] = Node(namespace) }
        for (key, values, force) in [("commonLabels", options.commonLabels, options.forceCommonLabels), ("commonAnnotations", options.commonAnnotations, options.forceCommonAnnotations)] where !values.isEmpty {
            var map = kustomization[key]?.mapping ?? Node.Mapping([])
            for (name, value) in values.sorted(by: { $0.key < $1.key }) {
                if let existing = map[name]?.string, existing != value, !force {
                    throw RenderError(file: file, message: "\(key).\(name) is already \(existing) in the kustomization; set \(key == "commonLabels" ? "forceCommonLabels" : "forceCommonAnnotations") to replace it with \(value)")
                }
                map[name] = Node(value, Tag(.str), .singleQuoted)
            }
            kustomization[key] = .mapping(map)
        }
        if !options.images.isEmpty {
            var images = Array(kustomization["images"]?.sequence ?? Node.Sequence([]))
            for argument in options.images {
                let image = try Self.image(argument, file: file)
                images.removeAll { $0.mapping?["name"]?.string == image.name }
                var entry = Node.Mapping([("name", Node(image.name))])
                if let newName = image.newName { entry["newName"] = Node(newName) }
                if let tag = image.newTag { entry["newTag"] = Node(tag, Tag(.str), .singleQuoted) }
                if let digest = image.digest { entry["digest"] = Node(digest) }
                images.append(.mapping(entry))
            }
            kustomization["images"] = .sequence(.init(images))
        }
        if !options.replicas.isEmpty {
            var replicas = Array(kustomization["replicas"]?.sequence ?? Node.Sequence([]))
            for replica in options.replicas {
                replicas.removeAll { $0.mapping?["name"]?.string == replica.name }
                replicas.append(.mapping(Node.Mapping([("name", Node(replica.name)), ("count", Node(String(replica.count), Tag(.int)))])))
            }
            kustomization["replicas"] = .sequence(.init(replicas))
        }
        if !options.patches.isEmpty {
            var patches = Array(kustomization["patches"]?.sequence ?? Node.Sequence([]))
            for patch in options.patches {
                guard let node = try? Parser(yaml: patch, encoding: .utf8).singleRoot(), case .mapping = node else {
                    throw RenderError(file: file, message: "a kustomize patch from the app is not a mapping")
                }
                patches.append(node)
            }
            kustomization["patches"] = .sequence(.init(patches))
        }
        return try Yams.serialize(node: .mapping(kustomization), sortKeys: false)
    }

    /// `kustomize edit set image` syntax.
    static func image(_ argument: String, file: String) throws -> (name: String, newName: String?, newTag: String?, digest: String?) {
        var name = argument
        var replacement: String?
        if let equals = argument.firstIndex(of: "=") {
            name = String(argument[..<equals])
            replacement = String(argument[argument.index(after: equals)...])
        }
        func split(_ reference: String) -> (String, String?, String?) {
            if let at = reference.firstIndex(of: "@") { return (String(reference[..<at]), nil, String(reference[reference.index(after: at)...])) }
            // A tag's colon comes after the last `/` (a registry's port does not).
            let lastSlash = reference.lastIndex(of: "/") ?? reference.startIndex
            if let colon = reference[lastSlash...].lastIndex(of: ":") { return (String(reference[..<colon]), String(reference[reference.index(after: colon)...]), nil) }
            return (reference, nil, nil)
        }
        if let replacement {
            let (newName, tag, digest) = split(replacement)
            guard !name.isEmpty, !newName.isEmpty else { throw RenderError(file: file, message: "image \(argument) is not name=newName[:tag|@digest]") }
            return (name, newName, tag, digest)
        }
        let (plain, tag, digest) = split(name)
        guard !plain.isEmpty, tag != nil || digest != nil else { throw RenderError(file: file, message: "image \(argument) sets neither a new name, a tag nor a digest") }
        return (plain, nil, tag, digest)
    }
}
