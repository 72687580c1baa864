/// Where two versions of an object differ, as field paths (`.spec.replicas`,
/// `.spec.template.spec.containers[name=web].image`). Drift reports use the paths only, so a
/// Secret's data cannot leak through one.
public enum FieldDiff {
    /// Metadata the server writes on every change; differences there are not drift.
    static let serverMetadata: Set<String> = ["managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"]

    /// One differing field: its path and both values (nil: absent on that side).
    public struct Change: Hashable, Sendable {
        public var path: String
        public var old: JSONValue?
        public var new: JSONValue?
    }

    /// The paths at which `live` differs from `desired`, sorted. `status` is ignored: it is the
    /// cluster's to write.
    public static func paths(from live: JSONValue, to desired: JSONValue) -> [String] {
        self.changes(from: live, to: desired).map(\.path)
    }

    /// The differing fields with their values, sorted by path. Callers decide what may be shown:
    /// a Secret's values must not be.
    public static func changes(from live: JSONValue, to desired: JSONValue) -> [Change] {
        var changes: [Change] = []
        self.compare(live, desired, path: "", into: &changes)
        return changes.sorted { $0.path < $1.path }
    }

    private static func compare(_ live: JSONValue?, _ desired: JSONValue?, path: String, into paths: inout [Change]) {
        guard live != desired else { return }
        switch (live, desired) {
        case (.object(let old)?, .object(let new)?):
            for key in Set(old.keys).union(new.keys) {
                if path.isEmpty, key == "status" { continue }
                if path == ".metadata", Self.serverMetadata.contains(key) { continue }
                self.compare(old[key], new[key], path: "\(path).\(key)", into: &paths)
            }
        case (.array(let old)?, .array(let new)?):
            if let oldByName = Self.byName(old), let newByName = Self.byName(new), oldByName.count == old.count, newByName.count == new.count {
                // Lists of named items (containers, env, volumes) match by name, as the API merges them.
                for name in Set(oldByName.keys).union(newByName.keys) {
                    self.compare(oldByName[name], newByName[name], path: "\(path)[name=\(name)]", into: &paths)
                }
            } else if old.count == new.count {
                for index in old.indices { self.compare(old[index], new[index], path: "\(path)[\(index)]", into: &paths) }
            } else {
                paths.append(Change(path: path, old: live, new: desired))
            }
        default:
            paths.append(Change(path: path.isEmpty ? "." : path, old: live, new: desired))
        }
    }

    private static func byName(_ items: [JSONValue]) -> [String: JSONValue]? {
        var result: [String: JSONValue] = [:]
        for item in items {
            guard let name = item["name"]?.string else { return nil }
            result[name] = item
        }
        return result
    }
}
