/// An RFC 6902 JSON patch applied to a resource: add, remove, replace, move, copy and test, with
/// RFC 6901 pointers (`~0` for `~`, `~1` for `/`, `-` for past the end of a list).
struct JSONPatch {
    struct Failure: Error {
        var message: String
    }

    private struct Operation {
        var op: String
        var path: [String]
        var from: [String]?
        var value: YAMLValue?
        var raw: String
    }

    private var operations: [Operation] = []

    /// Reads the operations of a patch.
    ///
    /// - Throws: `Failure` for an operation that is not a mapping, an unknown `op`, or a missing field.
    init(_ value: YAMLValue) throws(Failure) {
        guard let items = value.items else { throw Failure(message: "a JSON 6902 patch must be a list of operations") }
        for (index, item) in items.enumerated() {
            guard item.entries != nil, let op = item["op"]?.text, let path = item["path"]?.text else {
                throw Failure(message: "JSON patch operation \(index) needs op and path")
            }
            let raw = "\(op) \(path)"
            guard ["add", "remove", "replace", "move", "copy", "test"].contains(op) else {
                throw Failure(message: "JSON patch operation \(index): unsupported op '\(op)'")
            }
            let from = try item["from"]?.text.map { text throws(Failure) in try Self.pointer(text) }
            if (op == "move" || op == "copy") && from == nil { throw Failure(message: "JSON patch operation \(index) (\(raw)) needs from") }
            if ["add", "replace", "test"].contains(op) && item["value"] == nil {
                throw Failure(message: "JSON patch operation \(index) (\(raw)) needs a value")
            }
            self.operations.append(Operation(op: op, path: try Self.pointer(path), from: from, value: item["value"], raw: raw))
        }
    }

    /// Applies every operation in order.
    ///
    /// - Throws: `Failure` naming the first operation that does not apply.
    func apply(to document: inout YAMLValue) throws(Failure) {
        for operation in self.operations {
            guard let outcome = Self.perform(operation, on: document) else {
                throw Failure(message: "\(operation.raw): path does not exist")
            }
            switch outcome {
            case .success(let value): document = value
            case .failure(let failure): throw Failure(message: "\(operation.raw): \(failure.message)")
            }
        }
    }

    private static func perform(_ operation: Operation, on document: YAMLValue) -> Result<YAMLValue, Failure>? {
        switch operation.op {
        case "add": return Self.add(operation.value!, at: operation.path[...], in: document).map { .success($0) }
        case "remove": return Self.remove(at: operation.path[...], in: document).map { .success($0.document) }
        case "replace":
            guard let removed = Self.remove(at: operation.path[...], in: document) else { return nil }
            return Self.add(operation.value!, at: operation.path[...], in: removed.document, replacingAt: true).map { .success($0) }
        case "move":
            guard let removed = Self.remove(at: operation.from![...], in: document) else { return nil }
            return Self.add(removed.value, at: operation.path[...], in: removed.document).map { .success($0) }
        case "copy":
            guard let value = Self.value(at: operation.from!, in: document) else { return nil }
            return Self.add(value, at: operation.path[...], in: document).map { .success($0) }
        default:
            guard let value = Self.value(at: operation.path, in: document) else { return nil }
            return Self.equal(value, operation.value!) ? .success(document) : .failure(Failure(message: "test failed"))
        }
    }

    private static func pointer(_ text: String) throws(Failure) -> [String] {
        if text.isEmpty { return [] }
        guard text.hasPrefix("/") else { throw Failure(message: "JSON pointer '\(text)' must start with /") }
        return text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    private static func value(at path: [String], in document: YAMLValue) -> YAMLValue? {
        var current = document
        for token in path {
            switch current {
            case .mapping: guard let next = current[token] else { return nil }; current = next
            case .sequence(let items): guard let index = Int(token), items.indices.contains(index) else { return nil }; current = items[index]
            case .scalar: return nil
            }
        }
        return current
    }

    /// `document` with `value` added at `path`; in a list, inserted (or, for replace, put back) at the index.
    private static func add(_ value: YAMLValue, at path: ArraySlice<String>, in document: YAMLValue, replacingAt: Bool = false) -> YAMLValue? {
        guard let token = path.first else { return value }
        let last = path.count == 1
        switch document {
        case .mapping:
            var result = document
            if last {
                result[token] = value
            } else {
                guard let child = document[token], let updated = Self.add(value, at: path.dropFirst(), in: child, replacingAt: replacingAt) else { return nil }
                result[token] = updated
            }
            return result
        case .sequence(var items):
            if last {
                if token == "-" { items.append(value); return .sequence(items) }
                guard let index = Int(token), index >= 0, index <= items.count else { return nil }
                items.insert(value, at: index)
                return .sequence(items)
            }
            guard let index = Int(token), items.indices.contains(index),
                  let updated = Self.add(value, at: path.dropFirst(), in: items[index], replacingAt: replacingAt) else { return nil }
            items[index] = updated
            return .sequence(items)
        case .scalar:
            return nil
        }
    }

    private static func remove(at path: ArraySlice<String>, in document: YAMLValue) -> (document: YAMLValue, value: YAMLValue)? {
        guard let token = path.first else { return nil }
        switch document {
        case .mapping:
            guard let child = document[token] else { return nil }
            var result = document
            if path.count == 1 {
                result[token] = nil
                return (result, child)
            }
            guard let removed = Self.remove(at: path.dropFirst(), in: child) else { return nil }
            result[token] = removed.document
            return (result, removed.value)
        case .sequence(var items):
            guard let index = Int(token), items.indices.contains(index) else { return nil }
            if path.count == 1 {
                let value = items.remove(at: index)
                return (.sequence(items), value)
            }
            guard let removed = Self.remove(at: path.dropFirst(), in: items[index]) else { return nil }
            items[index] = removed.document
            return (.sequence(items), removed.value)
        case .scalar:
            return nil
        }
    }

    /// JSON equality: maps compare without regard to key order.
    private static func equal(_ lhs: YAMLValue, _ rhs: YAMLValue) -> Bool {
        switch (lhs, rhs) {
        case (.mapping(let left), .mapping(let right)):
            guard left.count == right.count else { return false }
            return left.allSatisfy { entry in rhs[entry.key].map { Self.equal(entry.value, $0) } ?? false }
        case (.sequence(let left), .sequence(let right)):
            return left.count == right.count && zip(left, right).allSatisfy { Self.equal($0, $1) }
        default:
            return lhs == rhs
        }
    }
}
