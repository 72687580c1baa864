import Yams

/// Builds a kustomization the way `kustomize build` (v5) does, for the supported subset: resources
/// (files, and directories with their own kustomization, recursively), generators, then this
/// level's transformers in Kustomize's order; at the top, content-hash suffixes and name references.
/// Pure: it reads only the files it is given.
struct Kustomizer {
    let tree: SourceTree

    init(files: [SourceFile]) {
        self.tree = SourceTree(files)
    }

    /// The resources of the kustomization in `directory`, fully built.
    ///
    /// - Throws: `RenderError` naming the file (and line) at fault.
    func build(directory: String) throws -> [KustomizeResource] {
        var resources = try self.accumulate(directory: directory, chain: [])
        for index in resources.indices where resources[index].needsHashSuffix {
            resources[index].name += "-" + ContentHash.suffix(for: resources[index].value)
        }
        try NameReferences.fix(&resources)
        return resources
    }

    private func accumulate(directory: String, chain: [String]) throws -> [KustomizeResource] {
        guard let file = try self.tree.kustomization(in: directory) else {
            throw RenderError(file: directory.isEmpty ? "." : directory, message: "no kustomization file in this directory")
        }
        if chain.contains(directory) {
            throw RenderError(file: file, message: "kustomization cycle: \((chain + [directory]).joined(separator: " -> "))")
        }
        let kustomization = try Kustomization(file: file, directory: directory, contents: try self.tree.contents(of: file))
        var resources: [KustomizeResource] = []
        for entry in kustomization.resources {
            let reference = entry.value
            if reference.contains("://") || reference.hasPrefix("git@") || reference.hasPrefix("github.com/") || reference.contains("?ref=") {
                throw RenderError(file: file, line: entry.line, message: "remote resource '\(reference)' is not supported; vendor it into the repository")
            }
            switch try self.tree.resolve(reference, from: directory, referrer: file, line: entry.line) {
            case .file(let path):
                resources += try self.load(path)
            case .directory(let path):
                guard try self.tree.kustomization(in: path) != nil else {
                    throw RenderError(file: file, line: entry.line, message: "resource directory '\(reference)' has no kustomization file")
                }
                resources += try self.accumulate(directory: path, chain: chain + [directory])
            case .missing:
                throw RenderError(file: file, line: entry.line, message: "resource '\(reference)' not found")
            }
        }
        try self.generate(kustomization, into: &resources)
        try self.transform(kustomization, &resources)
        return resources
    }

    /// Transformers in the order Kustomize v5 runs them.
    private func transform(_ kustomization: Kustomization, _ resources: inout [KustomizeResource]) throws {
        for patch in kustomization.strategicMergePatches { try self.apply(patch, of: kustomization, to: &resources) }
        for patch in kustomization.patches { try self.apply(patch, of: kustomization, to: &resources) }
        if let namespace = kustomization.namespace, !namespace.isEmpty { Self.setNamespace(namespace, on: &resources) }
        if !kustomization.namePrefix.isEmpty || !kustomization.nameSuffix.isEmpty {
            Self.addAffixes(prefix: kustomization.namePrefix, suffix: kustomization.nameSuffix, to: &resources)
        }
        for labels in kustomization.labels { Self.addLabels(labels, to: &resources) }
        if !kustomization.annotations.isEmpty { Self.addAnnotations(kustomization.annotations, to: &resources) }
        for patch in kustomization.json6902Patches { try self.apply(patch, of: kustomization, to: &resources) }
        for replica in kustomization.replicas { Self.setReplicas(replica, on: &resources) }
        for image in kustomization.images { Self.setImage(image, on: &resources) }
    }

    /// The resources of one manifest file, validated as plain rendering validates them.
    func load(_ path: String) throws -> [KustomizeResource] {
        let text = String(decoding: try self.tree.contents(of: path), as: UTF8.self)
        var resources: [KustomizeResource] = []
        for (document, line) in try Self.documents(text, file: path, line: nil) {
            if document.isNull { continue }
            guard case .mapping = document else { throw RenderError(file: path, line: line, message: "a manifest must be a mapping") }
            try Self.validate(document, file: path, line: line)
            if document["kind"]?.text == "List", let items = document["items"]?.items {
                for item in items {
                    try Self.validate(item, file: path, line: line)
                    resources.append(KustomizeResource(value: item, file: path, line: line))
                }
            } else {
                resources.append(KustomizeResource(value: document, file: path, line: line))
            }
        }
        return resources
    }

    /// Parses every YAML document in `text`, each with its line. With `line`, errors point there
    /// (for text embedded in a kustomization) rather than inside the text.
    static func documents(_ text: String, file: String, line: Int?) throws -> [(YAMLValue, Int)] {
        var documents: [(YAMLValue, Int)] = []
        do {
            // Types come from `YAMLValue`, not Yams: the basic resolver spares a regular-expression
            // match per scalar (Yams resolves every key to check duplicates). The default encoding
            // would read the process environment for every parser.
            let parser = try Parser(yaml: text, resolver: .basic, encoding: .utf8)
            while let node = try parser.nextRoot() {
                let documentLine = line ?? node.mark?.line ?? 1
                do {
                    documents.append((try YAMLValue(node), documentLine))
                } catch {
                    throw RenderError(file: file, line: line ?? error.line ?? documentLine, message: error.message)
                }
            }
        } catch let error as YamlError {
            let located = RenderError(yamlError: error, file: file)
            throw line.map { RenderError(file: file, line: $0, message: located.message) } ?? located
        }
        return documents
    }

    private static func validate(_ document: YAMLValue, file: String, line: Int) throws {
        for (path, field) in [(["apiVersion"], "apiVersion"), (["kind"], "kind"), (["metadata", "name"], "metadata.name")] {
            guard let value = document.value(at: path)?.text, !value.isEmpty, value != "null" else {
                throw RenderError(file: file, line: line, message: "missing \(field)")
            }
        }
    }
}
