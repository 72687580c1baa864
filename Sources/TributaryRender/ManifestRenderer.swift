import Foundation
import Yams

/// A file of an app's source, as read from a commit.
public struct SourceFile: Hashable, Sendable {
    /// Path from the repository root, `/`-separated.
    public var path: String
    public var contents: [UInt8]
    /// For a symlink, `contents` is its target.
    public var isSymlink: Bool
    /// Git's executable mode, kept when the file is written out for a plugin.
    public var isExecutable: Bool

    public init(path: String, contents: [UInt8], isSymlink: Bool = false, isExecutable: Bool = false) {
        self.path = path
        self.contents = contents
        self.isSymlink = isSymlink
        self.isExecutable = isExecutable
    }
}

/// How an app's directory is rendered.
public struct RenderOptions: Hashable, Sendable {
    /// `directory.recurse`: include subdirectories. Default false.
    public var recurse: Bool = false
    /// `substitute`: values for `${VAR}` references. Default none.
    public var substitute: [String: String] = [:]
    /// `jsonnet`: how `.jsonnet` files are evaluated. Default no variables or libraries.
    public var jsonnet = JsonnetOptions()
    /// `kustomize`: edits to the directory's kustomization before the build. Default none.
    public var kustomize = KustomizeOptions()

    public init(recurse: Bool = false, substitute: [String: String] = [:], jsonnet: JsonnetOptions = .init(), kustomize: KustomizeOptions = .init()) {
        self.recurse = recurse
        self.substitute = substitute
        self.jsonnet = jsonnet
        self.kustomize = kustomize
    }
}

/// Renders an app's directory: a kustomization when the directory has one (see `Kustomizer`),
/// otherwise its plain manifests (multi-document YAML and JSON, and `.jsonnet` files evaluated). Either way validated and ordered as
/// they will be applied. Pure and deterministic: the same files give byte-identical output.
public enum ManifestRenderer {
    static let manifestExtensions = [".yaml", ".yml", ".json", ".jsonnet"]
    /// The file names that make a directory a kustomization.
    public static let kustomizationNames: Set<String> = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
    /// Later keys win.
    public static let syncWaveAnnotations = ["argocd.argoproj.io/sync-wave", "tributary.dev/sync-wave"]

    /// Renders the manifests under `directory`.
    ///
    /// - Parameters:
    ///   - files: the app's files (at least those under `directory`), paths from the repository root.
    /// - Throws: `RenderError` naming the file and, for YAML and substitution problems, the line.
    public static func render(directory: String, files: [SourceFile], options: RenderOptions) throws -> [Manifest] {
        let prefix = Self.normalizedPrefix(directory)
        let byPath = Dictionary(files.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        if let name = Self.kustomizationNames.sorted().first(where: { byPath[prefix + $0] != nil }) {
            var files = files
            if !options.kustomize.isEmpty, let index = files.firstIndex(where: { $0.path == prefix + name }) {
                let file = try Self.resolvingSymlink(files[index], in: byPath)
                let edited = try KustomizationEdit.apply(options.kustomize, to: String(decoding: file.contents, as: UTF8.self), file: files[index].path)
                files[index] = SourceFile(path: files[index].path, contents: Array(edited.utf8))
            }
            return try Self.checkedAndOrdered(Self.renderKustomization(directory: String(prefix.dropLast()), files: files, options: options))
        }
        if !options.kustomize.isEmpty {
            throw RenderError(file: prefix.isEmpty ? "." : String(prefix.dropLast()), message: "kustomize options need a kustomization.yaml in the app's path")
        }
        var selected: [SourceFile] = []
        for file in files.sorted(by: { $0.path < $1.path }) where file.path.hasPrefix(prefix) {
            let relative = file.path.dropFirst(prefix.count)
            if !options.recurse && relative.contains("/") { continue }
            let name = relative.split(separator: "/").last.map(String.init) ?? ""
            if Self.kustomizationNames.contains(name) {
                // Rendering it as plain files would drop its transformations; rendering it as a
                // kustomization would ignore the files around it. Neither is what the author meant.
                throw RenderError(file: file.path, message: "a kustomization below a plain app directory is not rendered; point the app's path at its directory, or add a kustomization at the app's root that lists it")
            }
            guard Self.manifestExtensions.contains(where: { name.hasSuffix($0) }) else { continue }
            selected.append(try Self.resolvingSymlink(file, in: byPath))
        }
        var manifests: [Manifest] = []
        for file in selected {
            if file.path.hasSuffix(".jsonnet") {
                manifests += try Self.manifests(evaluating: file, files: byPath, options: options.jsonnet)
            } else {
                manifests += try Self.manifests(in: file, options: options)
            }
        }
        return try Self.checkedAndOrdered(manifests)
    }

    /// Refuses two resources with one identity, then sorts into apply order.
    static func checkedAndOrdered(_ manifests: [Manifest]) throws -> [Manifest] {
        var seen: [String: String] = [:]
        for manifest in manifests {
            if let first = seen[manifest.identity] {
                throw RenderError(
                    file: manifest.file,
                    line: manifest.line,
                    message: "duplicate resource \(manifest.kind) \(manifest.namespace.isEmpty ? "" : manifest.namespace + "/")\(manifest.name) (also at \(first))"
                )
            }
            seen[manifest.identity] = manifest.source
        }
        return manifests.sorted(by: Self.applyOrder)
    }

    /// Apply order: sync wave, then kind (Namespaces, CRDs, then Helm's install order), then namespace and name.
    static func applyOrder(_ lhs: Manifest, _ rhs: Manifest) -> Bool {
        if lhs.syncWave != rhs.syncWave { return lhs.syncWave < rhs.syncWave }
        let leftKind = Self.kindRank(lhs.kind)
        let rightKind = Self.kindRank(rhs.kind)
        if leftKind != rightKind { return leftKind < rightKind }
        if lhs.kind != rhs.kind { return lhs.kind < rhs.kind }
        if lhs.namespace != rhs.namespace { return lhs.namespace < rhs.namespace }
        if lhs.name != rhs.name { return lhs.name < rhs.name }
        return lhs.source < rhs.source
    }

    static let kindOrder = [
        "Namespace", "CustomResourceDefinition", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
        "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
        "PersistentVolumeClaim", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role",
        "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet",
        "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
    ]
    private static let kindRanks = Dictionary(uniqueKeysWithValues: kindOrder.enumerated().map { ($1, $0) })

    static func kindRank(_ kind: String) -> Int {
        Self.kindRanks[kind] ?? Self.kindOrder.count
    }

    private static func manifests(in file: SourceFile, options: RenderOptions) throws -> [Manifest] {
        let text = try Substitution.apply(options.substitute, to: String(decoding: file.contents, as: UTF8.self), file: file.path)
        return try Self.manifests(parsing: text, file: file.path, reserialize: true)
    }

    /// The manifests a `.jsonnet` file evaluates to: one object, or an array of them (as Argo CD reads it).
    private static func manifests(evaluating file: SourceFile, files: [String: SourceFile], options: JsonnetOptions) throws -> [Manifest] {
        let json = try JsonnetEvaluator.evaluate(file, files: files, options: options)
        let root: Node?
        do {
            root = try Parser(yaml: json, encoding: .utf8).singleRoot()
        } catch let error as YamlError {
            throw RenderError(yamlError: error, file: file.path)
        }
        let documents: [Node] = if case .sequence(let items)? = root { Array(items) } else { root.map { [$0] } ?? [] }
        return try documents.compactMap { try Self.manifest(from: Self.blockStyled($0), file: file.path, line: nil, text: nil) }
    }

    /// `node` in YAML's block style: parsed from JSON, it would print as JSON's quoted flow style.
    /// A string stays quoted where plain text would read as another type (`"true"`, `"3"`, `""`).
    private static func blockStyled(_ node: Node) -> Node {
        switch node {
        case .scalar(let scalar):
            let readsAsString = Node(scalar.string, .implicit, .plain).tag == node.tag
            return .scalar(.init(scalar.string, node.tag, readsAsString ? .any : .singleQuoted))
        case .mapping(let mapping): return .mapping(.init(mapping.map { (Self.blockStyled($0.key), Self.blockStyled($0.value)) }, node.tag, .block))
        case .sequence(let sequence): return .sequence(.init(sequence.map(Self.blockStyled), node.tag, .block))
        case .alias: return node
        }
    }

    /// The manifests of YAML text. With `reserialize` false each manifest keeps the text as given
    /// (it must then hold one document).
    static func manifests(parsing text: String, file: String, reserialize: Bool) throws -> [Manifest] {
        let file = SourceFile(path: file, contents: [])
        var documents: [Node] = []
        do {
            // Parser.nextRoot rather than compose_all: iterating compose_all's sequence drops errors.
            // An explicit encoding: the default reads the process environment on every parse.
            let parser = try Parser(yaml: text, encoding: .utf8)
            while let document = try parser.nextRoot() { documents.append(document) }
        } catch let error as YamlError {
            throw RenderError(yamlError: error, file: file.path)
        }
        return try documents.compactMap { document in
            try Self.manifest(from: document, file: file.path, line: document.mark?.line, text: reserialize ? nil : text)
        }
    }

    /// The manifest of one YAML document; nil for an empty one. `text`: the document's text as
    /// given, or nil to serialize the node.
    static func manifest(from document: Node, file path: String, line: Int?, text: String?) throws -> Manifest? {
        let file = SourceFile(path: path, contents: [])
        if case .scalar(let scalar) = document, scalar.string.isEmpty || scalar.string == "null" || scalar.string == "~" { return nil }
        guard case .mapping(let mapping) = document else {
            throw RenderError(file: file.path, line: line, message: "a manifest must be a mapping")
        }
        func string(_ node: Node?, _ field: String) throws -> String {
            guard let node, case .scalar(let scalar) = node, !scalar.string.isEmpty else {
                // Without a document line (evaluated Jsonnet) the node's marks count lines of the output, not the source.
                throw RenderError(file: file.path, line: line == nil ? nil : node?.mark?.line ?? line, message: "missing \(field)")
            }
            return scalar.string
        }
        let apiVersion = try string(mapping["apiVersion"], "apiVersion")
        let kind = try string(mapping["kind"], "kind")
        guard let metadataNode = mapping["metadata"], case .mapping(let metadata) = metadataNode else {
            throw RenderError(file: file.path, line: line, message: "missing metadata")
        }
        let name = try string(metadata["name"], "metadata.name")
        let namespace = metadata["namespace"]?.string ?? ""
        var wave = 0
        if case .mapping(let annotations)? = metadata["annotations"] {
            for key in Self.syncWaveAnnotations {
                guard let value = annotations[key] else { continue }
                guard let number = value.string.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
                    throw RenderError(file: file.path, line: line == nil ? nil : value.mark?.line, message: "\(key) must be a whole number")
                }
                wave = number
            }
        }
        let yaml = try text ?? Yams.serialize(node: document, sortKeys: false)
        return Manifest(
            apiVersion: apiVersion, kind: kind, namespace: namespace, name: name, syncWave: wave, yaml: yaml,
            file: file.path, line: line ?? 1
        )
    }

    /// `directory` + `relative` (both from the repository root) with `.` and `..` resolved; nil
    /// when it leaves the repository.
    public static func repositoryPath(_ directory: String, _ relative: String) -> String? {
        var components: [Substring] = []
        for part in (directory + "/" + relative).split(separator: "/") {
            switch part {
            case ".": continue
            case "..":
                guard !components.isEmpty else { return nil }
                components.removeLast()
            default: components.append(part)
            }
        }
        return components.joined(separator: "/")
    }

    /// The manifests an external renderer (Helm, a plugin) printed: multi-document YAML, checked
    /// and ordered as a directory's are.
    ///
    /// - Parameter file: what errors name, with the line in the output.
    public static func render(output: [UInt8], reportingAt file: String) throws -> [Manifest] {
        try Self.checkedAndOrdered(Self.manifests(parsing: String(decoding: output, as: UTF8.self), file: file, reserialize: true))
    }

    /// A symlink is followed only within the repository; one that escapes it is an error.
    static func resolvingSymlink(_ file: SourceFile, in files: [String: SourceFile]) throws -> SourceFile {
        guard file.isSymlink else { return file }
        let target = String(decoding: file.contents, as: UTF8.self)
        var components = target.hasPrefix("/") ? [] : file.path.split(separator: "/").dropLast().map(String.init)
        for part in target.split(separator: "/") {
            switch part {
            case ".": continue
            case "..":
                guard !components.isEmpty else { throw RenderError(file: file.path, message: "symlink escapes the repository") }
                components.removeLast()
            default: components.append(String(part))
            }
        }
        guard !target.hasPrefix("/"), let resolved = files[components.joined(separator: "/")], !resolved.isSymlink else {
            throw RenderError(file: file.path, message: target.hasPrefix("/") ? "symlink escapes the repository" : "symlink target \(target) is not among the app's files")
        }
        return SourceFile(path: file.path, contents: resolved.contents)
    }

    static func normalizedPrefix(_ directory: String) -> String {
        let trimmed = directory.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
        return trimmed.isEmpty ? "" : trimmed + "/"
    }
}

extension RenderError {
    init(yamlError: YamlError, file: String) {
        switch yamlError {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            self.init(file: file, line: mark.line, message: "invalid YAML: \(problem)")
        default:
            self.init(file: file, message: "invalid YAML: \(yamlError)")
        }
    }
}
