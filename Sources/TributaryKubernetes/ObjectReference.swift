import Foundation

/// Which object: what the API path is built from, and what inventories and events name.
public struct ObjectReference: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public var apiVersion: String
    public var kind: String
    /// Empty for cluster-scoped objects.
    public var namespace: String
    public var name: String

    public init(apiVersion: String, kind: String, namespace: String, name: String) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    /// The reference of an object's own `apiVersion`, `kind` and `metadata`.
    public init?(of object: JSONValue) {
        guard let apiVersion = object["apiVersion"]?.string, let kind = object["kind"]?.string, let name = object[path: "metadata.name"]?.string else { return nil }
        self.init(apiVersion: apiVersion, kind: kind, namespace: object[path: "metadata.namespace"]?.string ?? "", name: name)
    }

    /// The API group: the part of `apiVersion` before `/`, empty for the core group.
    public var group: String {
        guard let slash = self.apiVersion.firstIndex(of: "/") else { return "" }
        return String(self.apiVersion[..<slash])
    }

    /// `group/Kind/namespace/name`: the identity, whatever the version.
    public var identity: String { "\(self.group)/\(self.kind)/\(self.namespace)/\(self.name)" }

    /// `Deployment team-a/web`, `Namespace team-a`, `Certificate.cert-manager.io team-a/web`, for messages.
    public var description: String {
        let kind = self.group.isEmpty ? self.kind : "\(self.kind).\(self.group)"
        return self.namespace.isEmpty ? "\(kind) \(self.name)" : "\(kind) \(self.namespace)/\(self.name)"
    }

    public static func < (lhs: ObjectReference, rhs: ObjectReference) -> Bool { lhs.identity < rhs.identity }
}

/// A kind as the API serves it, from discovery.
public struct APIResource: Hashable, Sendable {
    /// `group/version`, or `v1` for the core group.
    public var groupVersion: String
    public var kind: String
    /// The plural resource name in the path (`deployments`).
    public var name: String
    public var namespaced: Bool

    public init(groupVersion: String, kind: String, name: String, namespaced: Bool) {
        self.groupVersion = groupVersion
        self.kind = kind
        self.name = name
        self.namespaced = namespaced
    }

    /// `/api/v1` or `/apis/<group>/<version>`.
    var basePath: String { self.groupVersion.contains("/") ? "/apis/\(self.groupVersion)" : "/api/\(self.groupVersion)" }

    /// The path of a collection (`namespace` nil or empty: all namespaces / cluster scope) or, with `name`, of an object.
    public func path(namespace: String?, name: String? = nil) -> String {
        var path = self.basePath
        if self.namespaced, let namespace, !namespace.isEmpty { path += "/namespaces/\(Self.escape(namespace))" }
        path += "/\(self.name)"
        if let name { path += "/\(Self.escape(name))" }
        return path
    }

    /// Names come from repositories: keep them inside their path segment.
    static func escape(_ segment: String) -> String {
        // Valid names (DNS labels and subdomains) need no escaping; percent-encoding costs a Foundation round trip.
        if segment.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D || $0 == 0x2E }) { return segment }
        return segment.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~:"))) ?? segment
    }
}

