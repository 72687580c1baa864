extension Kustomizer {
    /// Applies one `patches`, `patchesStrategicMerge` or `patchesJson6902` entry.
    ///
    /// A patch whose content is a YAML list is JSON 6902 and needs a target; anything else is a
    /// strategic-merge patch. Without a target, a strategic-merge patch applies to the one resource
    /// with its apiVersion, kind, name and namespace, and finding none is an error, as in Kustomize.
    /// A target that selects nothing leaves the resources as they are, as in Kustomize.
    func apply(_ spec: Kustomization.PatchSpec, of kustomization: Kustomization, to resources: inout [KustomizeResource]) throws {
        let (text, file, line) = try self.patchText(spec, of: kustomization)
        func failure(_ message: String) -> RenderError { RenderError(file: file, line: line, message: message) }
        let documents = try Self.documents(text, file: file, line: spec.inline == nil ? nil : line).filter { !$0.0.isNull }
        if spec.forceJSON6902 || (documents.count == 1 && documents[0].0.items != nil) {
            guard let target = spec.target else { throw failure("a JSON 6902 patch needs a target") }
            guard documents.count == 1 else { throw failure("a JSON 6902 patch must be one list of operations") }
            let patch: JSONPatch
            do { patch = try JSONPatch(documents[0].0) } catch { throw failure(error.message) }
            for index in try self.select(target, in: resources, failure: failure) {
                do {
                    try patch.apply(to: &resources[index].value)
                } catch {
                    throw failure("JSON patch on \(resources[index].label): \(error.message)")
                }
            }
            return
        }
        for (document, _) in documents {
            guard case .mapping = document else { throw failure("a strategic-merge patch must be a mapping") }
            if let target = spec.target {
                // The patch's own identity is irrelevant with a target; keep it from renaming anything.
                var patch = document
                patch["apiVersion"] = nil
                patch["kind"] = nil
                patch.visit(["metadata"], create: false) { $0["name"] = nil; $0["namespace"] = nil }
                var deleted: Set<Int> = []
                for index in try self.select(target, in: resources, failure: failure) {
                    if let merged = StrategicMerge.apply(patch, to: resources[index].value) {
                        resources[index].value = merged
                    } else {
                        deleted.insert(index)
                    }
                }
                resources = resources.enumerated().filter { !deleted.contains($0.offset) }.map(\.element)
            } else {
                let apiVersion = document["apiVersion"]?.text ?? ""
                let kind = document["kind"]?.text ?? ""
                let name = document.value(at: ["metadata", "name"])?.text ?? ""
                let namespace = document.value(at: ["metadata", "namespace"])?.text ?? ""
                let identity = "\(kind) \(namespace.isEmpty ? "" : namespace + "/")\(name)"
                let matches = resources.indices.filter {
                    resources[$0].apiVersion == apiVersion && resources[$0].kind == kind
                        && resources[$0].hadName(name) && resources[$0].hadNamespace(namespace)
                }
                guard let index = matches.first else { throw failure("no resource matches strategic-merge patch for \(apiVersion) \(identity)") }
                guard matches.count == 1 else { throw failure("more than one resource matches strategic-merge patch for \(apiVersion) \(identity)") }
                var patch = document
                patch.visit(["metadata"], create: false) { $0["name"] = nil; $0["namespace"] = nil }
                if let merged = StrategicMerge.apply(patch, to: resources[index].value) {
                    resources[index].value = merged
                } else {
                    resources.remove(at: index)
                }
            }
        }
    }

    private func select(_ target: PatchTarget, in resources: [KustomizeResource], failure: (String) -> RenderError) throws -> [Int] {
        var selected: [Int] = []
        for index in resources.indices {
            do {
                if try target.matches(resources[index]) { selected.append(index) }
            } catch {
                throw failure(error.message)
            }
        }
        return selected
    }

    /// The patch's text, and the file and line its errors point at.
    private func patchText(_ spec: Kustomization.PatchSpec, of kustomization: Kustomization) throws -> (String, String, Int) {
        if let inline = spec.inline { return (inline, kustomization.file, spec.line) }
        let reference = spec.path ?? ""
        guard case .file(let path) = try self.tree.resolve(reference, from: kustomization.directory, referrer: kustomization.file, line: spec.line) else {
            throw RenderError(file: kustomization.file, line: spec.line, message: "patch file '\(reference)' not found")
        }
        return (String(decoding: try self.tree.contents(of: path), as: UTF8.self), path, 1)
    }
}
