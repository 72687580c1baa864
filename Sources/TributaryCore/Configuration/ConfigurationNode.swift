import Foundation

import Yams

/// A YAML node with the file and key path it came from, so every error can say where it is.
public struct ConfigurationNode {
    let node: Node
    /// The file the node was read from.
    public let file: String
    /// The dotted key path from the document root.
    public let path: String

    init(node: Node, file: String, path: String) {
        self.node = node
        self.file = file
        self.path = path
    }

    /// The node's 1-based line.
    public var line: Int? { self.node.mark?.line }

    /// An error located at this node.
    public func error(_ message: String) -> ConfigurationError {
        ConfigurationError(file: self.file, line: self.line, key: self.path, message: message)
    }

    /// Whether the node is YAML null (`~`, `null` or empty).
    public var isNull: Bool {
        if case .scalar(let scalar) = self.node { return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string) }
        return false
    }

    /// The node as a mapping whose keys must all be in `allowedKeys`.
    ///
    /// - Throws: `ConfigurationError` at the first unknown key, listing the allowed ones.
    public func mapping(allowedKeys: Set<String>?) throws -> ConfigurationMapping {
        guard case .mapping(let mapping) = self.node else {
            throw self.error("expected a mapping (key: value), got \(self.kind)")
        }
        var entries: [(String, ConfigurationNode)] = []
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let key) = keyNode else {
                throw self.error("keys must be plain strings")
            }
            let child = ConfigurationNode(node: valueNode, file: self.file, path: self.path.isEmpty ? key.string : "\(self.path).\(key.string)")
            if let allowedKeys, !allowedKeys.contains(key.string) {
                throw ConfigurationError(
                    file: self.file,
                    line: keyNode.mark?.line ?? self.line,
                    key: child.path,
                    message: "unknown key (expected one of: \(allowedKeys.sorted().joined(separator: ", ")))"
                )
            }
            entries.append((key.string, child))
        }
        return ConfigurationMapping(owner: self, entries: entries)
    }

    /// The node as a sequence; null reads as empty.
    public func sequence() throws -> [ConfigurationNode] {
        if self.isNull { return [] }
        guard case .sequence(let sequence) = self.node else {
            throw self.error("expected a list, got \(self.kind)")
        }
        return sequence.enumerated().map { index, node in
            ConfigurationNode(node: node, file: self.file, path: "\(self.path)[\(index)]")
        }
    }

    public func string() throws -> String {
        guard case .scalar(let scalar) = self.node, !self.isNull else {
            throw self.error("expected a string, got \(self.kind)")
        }
        return scalar.string
    }

    public func int(in range: ClosedRange<Int>? = nil) throws -> Int {
        guard case .scalar(let scalar) = self.node, let value = Int(scalar.string.replacingOccurrences(of: "_", with: "")) else {
            throw self.error("expected a whole number, got \(self.describedValue)")
        }
        if let range, !range.contains(value) {
            throw self.error("must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        return value
    }

    public func bool() throws -> Bool {
        guard case .scalar(let scalar) = self.node else { throw self.error("expected true or false, got \(self.kind)") }
        switch scalar.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw self.error("expected true or false, got \(self.describedValue)")
        }
    }

    /// A duration such as `500ms`, `8s`, `3m`, `1h30m`.
    public func duration() throws -> Duration {
        let text = try self.string()
        guard let duration = DurationParser.parse(text) else {
            throw self.error("expected a duration such as 500ms, 8s, 3m or 1h30m, got '\(text)'")
        }
        return duration
    }

    /// A size in bytes: a whole number, or a quantity as Kubernetes writes them (`512Mi`, `20Gi`, `1G`).
    public func byteSize() throws -> Int64 {
        let text = try self.string().trimmingCharacters(in: .whitespaces)
        let units: [(String, Int64)] = [("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40), ("K", 1_000), ("k", 1_000), ("M", 1_000_000), ("G", 1_000_000_000), ("T", 1_000_000_000_000)]
        let (number, multiplier) = units.first { text.hasSuffix($0.0) }.map { (String(text.dropLast($0.0.count)), $0.1) } ?? (text, 1)
        guard let value = Int64(number), value > 0, value <= Int64.max / multiplier else {
            throw self.error("expected a size such as 1048576, 512Mi or 20Gi, got '\(text)'")
        }
        return value * multiplier
    }

    public func stringList() throws -> [String] {
        try self.sequence().map { try $0.string() }
    }

    private var kind: String {
        switch self.node {
        case .scalar: self.isNull ? "nothing" : "a single value"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    private var describedValue: String {
        if case .scalar(let scalar) = self.node { return "'\(scalar.string)'" }
        return self.kind
    }
}

/// The entries of a mapping node, in file order.
public struct ConfigurationMapping {
    public let owner: ConfigurationNode
    public let entries: [(key: String, value: ConfigurationNode)]

    init(owner: ConfigurationNode, entries: [(String, ConfigurationNode)]) {
        self.owner = owner
        self.entries = entries.map { (key: $0.0, value: $0.1) }
    }

    public subscript(key: String) -> ConfigurationNode? {
        self.entries.first { $0.key == key }.flatMap { $0.value.isNull ? nil : $0.value }
    }

    /// The value for `key`, which must be present.
    ///
    /// - Throws: `ConfigurationError` at the mapping when the key is missing.
    public func required(_ key: String) throws -> ConfigurationNode {
        guard let value = self[key] else {
            let path = self.owner.path.isEmpty ? key : "\(self.owner.path).\(key)"
            throw ConfigurationError(file: self.owner.file, line: self.owner.line, key: path, message: "required key is missing")
        }
        return value
    }
}

/// Parses durations written as a sequence of number-unit pairs: `ms`, `s`, `m`, `h`, `d`.
public enum DurationParser {
    public static func parse(_ text: String) -> Duration? {
        var total = Duration.zero
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard !digits.isEmpty, let number = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let seconds: Double
            switch unit {
            case "ms": seconds = number / 1000
            case "s": seconds = number
            case "m": seconds = number * 60
            case "h": seconds = number * 3600
            case "d": seconds = number * 86400
            default: return nil
            }
            // Beyond ~30 years is a typo, and would overflow.
            guard seconds.isFinite, seconds < 1e9 else { return nil }
            total += .milliseconds(Int64((seconds * 1000).rounded()))
        }
        return total
    }
}
