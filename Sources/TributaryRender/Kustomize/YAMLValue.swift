import Foundation
import Yams

/// A YAML value as Kustomize sees it once decoded: plain scalars are typed with YAML 1.2 core rules
/// (as go-yaml v3 does), so `yes` stays a string and `012` is the number 10. Transformations work on
/// this tree rather than on `Yams.Node` because it has cheap value semantics and string-keyed maps.
indirect enum YAMLValue: Hashable, Sendable {
    case scalar(YAMLScalar)
    case mapping([YAMLEntry])
    case sequence([YAMLValue])

    static let null = YAMLValue.scalar(YAMLScalar(kind: .null, text: "null"))

    static func string(_ text: String) -> YAMLValue { .scalar(YAMLScalar(kind: .string, text: text)) }

    static func object(_ pairs: KeyValuePairs<String, YAMLValue>) -> YAMLValue {
        .mapping(pairs.map { YAMLEntry(key: $0.key, value: $0.value) })
    }

    /// The scalar's text when it is a string (or any scalar, for `text`).
    var string: String? {
        if case .scalar(let scalar) = self, scalar.kind == .string { return scalar.text }
        return nil
    }

    var text: String? {
        if case .scalar(let scalar) = self { return scalar.text }
        return nil
    }

    var isNull: Bool {
        if case .scalar(let scalar) = self { return scalar.kind == .null }
        return false
    }

    var entries: [YAMLEntry]? {
        if case .mapping(let entries) = self { return entries }
        return nil
    }

    var items: [YAMLValue]? {
        if case .sequence(let items) = self { return items }
        return nil
    }

    subscript(key: String) -> YAMLValue? {
        get { self.entries?.first(where: { $0.key == key })?.value }
        set { self.set(key, newValue) }
    }

    /// Sets (in place, keeping the key's position) or removes (`nil`) a key of a mapping; turns a
    /// non-mapping into an empty mapping first.
    mutating func set(_ key: String, _ value: YAMLValue?) {
        var entries = self.entries ?? []
        if let index = entries.firstIndex(where: { $0.key == key }) {
            if let value { entries[index].value = value } else { entries.remove(at: index) }
        } else if let value {
            entries.append(YAMLEntry(key: key, value: value))
        }
        self = .mapping(entries)
    }

    func value(at path: [String]) -> YAMLValue? {
        var current: YAMLValue? = self
        for key in path { current = current?[key] }
        return current
    }

    /// Calls `body` on every value at `path`, walking into each element where the path meets a
    /// sequence (Kustomize field specs do the same). Missing mappings are created only if `create`.
    mutating func visit(_ path: ArraySlice<String>, create: Bool, _ body: (inout YAMLValue) throws -> Void) rethrows {
        if case .sequence(var items) = self {
            for index in items.indices { try items[index].visit(path, create: create, body) }
            self = .sequence(items)
            return
        }
        guard let segment = path.first else { return try body(&self) }
        guard case .mapping = self else { return }
        // `name[]` marks a list: walked into when present, never created.
        let isList = segment.hasSuffix("[]")
        let key = isList ? String(segment.dropLast(2)) : segment
        var child: YAMLValue
        if let existing = self[key], !existing.isNull {
            child = existing
        } else if create && !isList {
            child = .mapping([])
        } else {
            return
        }
        try child.visit(path.dropFirst(), create: create, body)
        self[key] = child
    }
}

struct YAMLEntry: Hashable, Sendable {
    var key: String
    var value: YAMLValue
}

struct YAMLScalar: Hashable, Sendable {
    enum Kind: Hashable, Sendable { case string, int, float, bool, null }
    var kind: Kind
    /// For numbers, bools and null the canonical text Kustomize prints (`0x1F` becomes `31`).
    var text: String
}

extension YAMLValue {
    /// Decodes a parsed node.
    ///
    /// - Throws: the reason, for the caller to locate: aliases and non-scalar keys are refused.
    init(_ node: Node) throws(YAMLValueError) {
        switch node {
        case .scalar(let scalar):
            self = .scalar(Self.typed(scalar))
        case .mapping(let mapping):
            var entries: [YAMLEntry] = []
            entries.reserveCapacity(mapping.count)
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else { throw YAMLValueError(message: "mapping keys must be scalars", line: key.mark?.line) }
                let decoded = try YAMLValue(value)
                if let index = entries.firstIndex(where: { $0.key == keyScalar.string }) {
                    entries[index].value = decoded
                } else {
                    entries.append(YAMLEntry(key: keyScalar.string, value: decoded))
                }
            }
            self = .mapping(entries)
        case .sequence(let sequence):
            var items: [YAMLValue] = []
            items.reserveCapacity(sequence.count)
            for item in sequence { items.append(try YAMLValue(item)) }
            self = .sequence(items)
        case .alias(let alias):
            throw YAMLValueError(message: "YAML aliases are not supported", line: alias.mark?.line)
        }
    }

    private static func typed(_ scalar: Node.Scalar) -> YAMLScalar {
        let text = scalar.string
        // An explicit tag (`!!str`, `!`) makes a string; Kustomize has no use for others.
        if !scalar.tag.rawValue.isEmpty { return YAMLScalar(kind: scalar.tag.rawValue.hasSuffix(":int") ? .int : .string, text: text) }
        guard scalar.style == .plain || scalar.style == .any else { return YAMLScalar(kind: .string, text: text) }
        return YAMLResolver.resolvePlain(text)
    }
}

struct YAMLValueError: Error {
    var message: String
    var line: Int?
}
