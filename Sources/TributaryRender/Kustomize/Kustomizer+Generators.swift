import Foundation

extension Kustomizer {
    /// Runs `configMapGenerator` and `secretGenerator`: literals (`KEY=value`), files (`path` or
    /// `key=path`, inside the repository) and env files, parsed as Kustomize parses them. Values
    /// are never taken from the process environment, so rendering stays a function of the tree.
    func generate(_ kustomization: Kustomization, into resources: inout [KustomizeResource]) throws {
        for generator in kustomization.generators {
            func failure(_ message: String) -> RenderError { RenderError(file: kustomization.file, line: generator.line, message: message) }
            let pairs = try self.pairs(of: generator, in: kustomization, failure: failure)
            var data: [YAMLEntry] = []
            var binaryData: [YAMLEntry] = []
            for (key, bytes) in pairs {
                guard Self.isValidKey(key) else { throw failure("'\(key)' is not a valid \(generator.kind.rawValue) key") }
                guard !data.contains(where: { $0.key == key }) && !binaryData.contains(where: { $0.key == key }) else {
                    throw failure("\(generator.kind.rawValue) \(generator.name) has key '\(key)' more than once")
                }
                if generator.kind == .secret {
                    data.append(YAMLEntry(key: key, value: .string(Data(bytes).base64EncodedString())))
                } else if let text = String(validating: bytes, as: UTF8.self) {
                    data.append(YAMLEntry(key: key, value: .string(text)))
                } else {
                    binaryData.append(YAMLEntry(key: key, value: .string(Data(bytes).base64EncodedString())))
                }
            }
            let global = kustomization.generatorOptions
            let options = generator.options
            let labels = Self.merged(global.labels, options.labels)
            let annotations = Self.merged(global.annotations, options.annotations)
            let disableHash = options.disableNameSuffixHash ?? global.disableNameSuffixHash
            let immutable = options.immutable ?? global.immutable ?? false

            if generator.behavior != .create {
                let namespace = generator.namespace ?? ""
                guard let index = resources.firstIndex(where: {
                    $0.kind == generator.kind.rawValue && $0.hadName(generator.name) && $0.hadNamespace(namespace)
                }) else {
                    throw failure("\(generator.kind.rawValue) \(generator.name) has behavior \(generator.behavior.rawValue) but no such resource comes from the resources")
                }
                var existing = resources[index]
                for (field, entries) in [("data", data), ("binaryData", binaryData)] {
                    var merged: YAMLValue = generator.behavior == .merge ? (existing.value[field] ?? .mapping([])) : .mapping([])
                    for entry in entries { merged[entry.key] = entry.value }
                    existing.value[field] = merged.entries?.isEmpty == false ? merged : nil
                }
                Self.setMetadata(labels, key: "labels", on: &existing.value)
                Self.setMetadata(annotations, key: "annotations", on: &existing.value)
                if let disableHash { existing.needsHashSuffix = !disableHash }
                resources[index] = existing
                continue
            }

            var metadata: YAMLValue = .object(["name": .string(generator.name)])
            if let namespace = generator.namespace, !namespace.isEmpty { metadata["namespace"] = .string(namespace) }
            var value: YAMLValue = .object(["apiVersion": .string("v1"), "kind": .string(generator.kind.rawValue), "metadata": metadata])
            if !data.isEmpty { value["data"] = .mapping(data) }
            if !binaryData.isEmpty { value["binaryData"] = .mapping(binaryData) }
            if generator.kind == .secret { value["type"] = .string(generator.type.flatMap { $0.isEmpty ? nil : $0 } ?? "Opaque") }
            if immutable { value["immutable"] = .scalar(YAMLScalar(kind: .bool, text: "true")) }
            Self.setMetadata(labels, key: "labels", on: &value)
            Self.setMetadata(annotations, key: "annotations", on: &value)
            var resource = KustomizeResource(value: value, file: kustomization.file, line: generator.line)
            resource.needsHashSuffix = !(disableHash ?? false)
            resources.append(resource)
        }
    }

    /// Key/value pairs from env files, then literals, then files, as Kustomize orders them.
    private func pairs(of generator: Kustomization.Generator, in kustomization: Kustomization, failure: (String) -> RenderError) throws -> [(String, [UInt8])] {
        var pairs: [(String, [UInt8])] = []
        for env in generator.envs {
            let text = String(decoding: try self.generatorFile(env, kustomization, generator), as: UTF8.self)
            for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                var line = Substring(rawLine)
                if number == 0 && line.hasPrefix("\u{FEFF}") { line = line.dropFirst() }
                if line.hasSuffix("\r") { line = line.dropLast() }
                line = line.drop(while: { $0.isWhitespace })
                if line.isEmpty || line.hasPrefix("#") { continue }
                guard let equals = line.firstIndex(of: "=") else {
                    throw failure("env file \(env) line \(number + 1): '\(line)' has no '='; values are not read from the environment")
                }
                let key = String(line[..<equals])
                guard Self.isEnvName(key) else { throw failure("env file \(env) line \(number + 1): '\(key)' is not a valid variable name") }
                pairs.append((key, Array(line[line.index(after: equals)...].utf8)))
            }
        }
        for literal in generator.literals {
            guard let equals = literal.firstIndex(of: "="), equals != literal.startIndex else {
                throw failure("literal '\(literal)' must be KEY=value")
            }
            pairs.append((String(literal[..<equals]), Array(Self.unquoted(String(literal[literal.index(after: equals)...])).utf8)))
        }
        for file in generator.files {
            var key: String?
            var path = file
            if let equals = file.firstIndex(of: "=") {
                key = String(file[..<equals])
                path = String(file[file.index(after: equals)...])
                guard !(key ?? "").isEmpty, !path.isEmpty else { throw failure("file source '\(file)' must be path or key=path") }
            }
            let name = key ?? String(path.split(separator: "/").last ?? "")
            pairs.append((name, try self.generatorFile(path, kustomization, generator)))
        }
        return pairs
    }

    private func generatorFile(_ reference: String, _ kustomization: Kustomization, _ generator: Kustomization.Generator) throws -> [UInt8] {
        guard case .file(let path) = try self.tree.resolve(reference, from: kustomization.directory, referrer: kustomization.file, line: generator.line) else {
            throw RenderError(file: kustomization.file, line: generator.line, message: "\(generator.kind.rawValue) \(generator.name): file '\(reference)' not found")
        }
        return try self.tree.contents(of: path)
    }

    private static func unquoted(_ text: String) -> String {
        guard text.count >= 2, let first = text.first, first == text.last, first == "\"" || first == "'" else { return text }
        return String(text.dropFirst().dropLast())
    }

    private static func isValidKey(_ key: String) -> Bool {
        !key.isEmpty && key.count <= 253 && key != "." && key != ".." && !key.hasPrefix("..")
            && key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
    }

    private static func isEnvName(_ key: String) -> Bool {
        guard let first = key.first, !first.isNumber else { return false }
        return key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
    }

    private static func merged(_ base: [(String, String)], _ overrides: [(String, String)]) -> [(String, String)] {
        var result = base
        for (key, value) in overrides {
            if let index = result.firstIndex(where: { $0.0 == key }) { result[index].1 = value } else { result.append((key, value)) }
        }
        return result
    }

    private static func setMetadata(_ pairs: [(String, String)], key: String, on value: inout YAMLValue) {
        guard !pairs.isEmpty else { return }
        value.visit(["metadata", key], create: true) { map in
            for (name, text) in pairs { map[name] = .string(text) }
        }
    }
}
