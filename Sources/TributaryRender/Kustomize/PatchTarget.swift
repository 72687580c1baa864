import Foundation

/// A patch's `target`: which resources it applies to. As in Kustomize, `name` and `namespace` are
/// anchored regular expressions matched against either the original or the current value, and an
/// empty namespace counts as `default`.
struct PatchTarget {
    var group: String?
    var version: String?
    var kind: String?
    var name: String?
    var namespace: String?
    var labelSelector: String?
    var annotationSelector: String?

    /// Whether `resource` is selected.
    ///
    /// - Throws: a message for an invalid regular expression or selector.
    func matches(_ resource: KustomizeResource) throws(TargetError) -> Bool {
        if let group, !group.isEmpty, group != resource.group { return false }
        if let version, !version.isEmpty, version != resource.version { return false }
        if let kind, !kind.isEmpty, kind != resource.kind { return false }
        if let name, !name.isEmpty {
            let pattern = try Self.regex(name)
            guard Self.matches(pattern, resource.originalName) || Self.matches(pattern, resource.name) else { return false }
        }
        if let namespace, !namespace.isEmpty {
            let pattern = try Self.regex(namespace)
            let original = resource.originalNamespace.isEmpty ? "default" : resource.originalNamespace
            let current = resource.namespace.isEmpty ? "default" : resource.namespace
            guard Self.matches(pattern, original) || Self.matches(pattern, current) else { return false }
        }
        if let labelSelector, !labelSelector.isEmpty {
            guard try LabelSelector(labelSelector).matches(resource.metadataMap("labels")) else { return false }
        }
        if let annotationSelector, !annotationSelector.isEmpty {
            guard try LabelSelector(annotationSelector).matches(resource.metadataMap("annotations")) else { return false }
        }
        return true
    }

    var description: String {
        [("group", self.group), ("version", self.version), ("kind", self.kind), ("name", self.name), ("namespace", self.namespace),
         ("labelSelector", self.labelSelector), ("annotationSelector", self.annotationSelector)]
            .compactMap { key, value in value.map { "\(key)=\($0)" } }.joined(separator: ", ")
    }

    private static func regex(_ pattern: String) throws(TargetError) -> NSRegularExpression {
        do { return try NSRegularExpression(pattern: "^(?:\(pattern))$") } catch { throw TargetError(message: "invalid target pattern '\(pattern)'") }
    }

    private static func matches(_ regex: NSRegularExpression, _ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}

struct TargetError: Error {
    var message: String
}

/// A Kubernetes label selector string: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`.
struct LabelSelector {
    private enum Requirement {
        case equals(String, String)
        case notEquals(String, String)
        case within(String, Set<String>)
        case notWithin(String, Set<String>)
        case exists(String)
        case absent(String)
    }

    private var requirements: [Requirement] = []

    init(_ text: String) throws(TargetError) {
        // Split on commas outside parentheses.
        var parts: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            if character == "," && depth == 0 { parts.append(current); current = "" } else { current.append(character) }
        }
        parts.append(current)
        for raw in parts {
            let part = raw.trimmingCharacters(in: .whitespaces)
            if part.isEmpty { continue }
            if let range = part.range(of: " notin ") ?? part.range(of: " in ") {
                let key = part[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
                let list = part[range.upperBound...].trimmingCharacters(in: .whitespaces)
                guard list.hasPrefix("("), list.hasSuffix(")") else { throw TargetError(message: "invalid selector '\(text)'") }
                let values = Set(list.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                self.requirements.append(part[range].contains("notin") ? .notWithin(key, values) : .within(key, values))
            } else if let range = part.range(of: "!=") {
                self.requirements.append(.notEquals(part[..<range.lowerBound].trimmingCharacters(in: .whitespaces), part[range.upperBound...].trimmingCharacters(in: .whitespaces)))
            } else if let range = part.range(of: "==") ?? part.range(of: "=") {
                self.requirements.append(.equals(part[..<range.lowerBound].trimmingCharacters(in: .whitespaces), part[range.upperBound...].trimmingCharacters(in: .whitespaces)))
            } else if part.hasPrefix("!") {
                self.requirements.append(.absent(part.dropFirst().trimmingCharacters(in: .whitespaces)))
            } else {
                self.requirements.append(.exists(part))
            }
        }
    }

    func matches(_ labels: [String: String]) -> Bool {
        self.requirements.allSatisfy { requirement in
            switch requirement {
            case .equals(let key, let value): labels[key] == value
            case .notEquals(let key, let value): labels[key] != value
            case .within(let key, let values): labels[key].map(values.contains) ?? false
            case .notWithin(let key, let values): !(labels[key].map(values.contains) ?? false)
            case .exists(let key): labels[key] != nil
            case .absent(let key): labels[key] == nil
            }
        }
    }
}
