import Foundation

/// Where a secret comes from. Its description names the source, never the value.
public enum SecretReference: Hashable, Sendable, CustomStringConvertible {
    /// Written in the configuration file. For development only.
    case value(String)
    /// Read from an environment variable when resolved.
    case environment(String)
    /// Read from a file (trailing newline removed) when resolved — Kubernetes and Docker secrets.
    case file(String)

    public var description: String {
        switch self {
        case .value: "inline value"
        case .environment(let name): "env \(name)"
        case .file(let path): "file \(path)"
        }
    }

    /// The secret.
    ///
    /// - Parameter environment: the variables to read; nil reads the process's own (one `getenv`,
    ///   not a copy of the whole environment: this runs once per sync).
    /// - Throws: `SecretError` naming the variable or file, never the value.
    public func resolve(environment: [String: String]? = nil) throws -> String {
        switch self {
        case .value(let value):
            return value
        case .environment(let name):
            let value = environment.map { $0[name] } ?? getenv(name).map { String(cString: $0) }
            guard let value, !value.isEmpty else {
                throw SecretError(message: "environment variable \(name) is not set")
            }
            return value
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SecretError(message: "cannot read secret file \(path)")
            }
            var text = String(decoding: data, as: UTF8.self)
            while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
            guard !text.isEmpty else { throw SecretError(message: "secret file \(path) is empty") }
            return text
        }
    }
}

/// A secret that could not be read.
public struct SecretError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { self.message }
}

extension ConfigurationNode {
    /// Reads `{ env: NAME }`, `{ file: PATH }` or `{ value: "..." }`.
    public func secretReference() throws -> SecretReference {
        let mapping = try self.mapping(allowedKeys: ["env", "file", "value"])
        guard mapping.entries.count == 1, let (kind, node) = mapping.entries.first.map({ ($0.key, $0.value) }) else {
            throw self.error("a secret is exactly one of { env: NAME }, { file: PATH } or { value: \"...\" }")
        }
        // Don't use string(): its error would echo a malformed value, and this may be a secret.
        guard let text = try? node.string(), !text.isEmpty else {
            throw node.error("expected a non-empty string")
        }
        switch kind {
        case "env": return .environment(text)
        case "file": return .file(text)
        default: return .value(text)
        }
    }
}
