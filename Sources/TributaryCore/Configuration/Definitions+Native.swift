import Foundation

extension Definitions {
    /// The same projects and apps as Tributary's own configuration (`tributary import`): a
    /// `projects:` and an `apps:` section to paste into a configuration file.
    public var nativeYAML: String {
        var lines: [String] = []
        if !self.projects.isEmpty {
            lines.append("projects:")
            for project in self.projects {
                lines.append("  - name: \(Self.quoted(project.name))")
                lines.append("    sourceRepos: [\(project.sourceRepos.map { Self.quoted($0.pattern) }.joined(separator: ", "))]")
                var destinations = project.destinations.map { Self.quoted($0.pattern) }
                destinations += project.clusterDestinations.map { destination in
                    let fields = [("name", destination.name), ("server", destination.server), ("namespace", destination.namespace)].compactMap { key, glob in
                        glob.map { "\(key): \(Self.quoted($0.pattern))" }
                    }
                    return "{ \(fields.joined(separator: ", ")) }"
                }
                lines.append("    destinations: [\(destinations.joined(separator: ", "))]")
                for (key, list) in [
                    ("clusterResourceWhitelist", project.clusterResourceWhitelist), ("clusterResourceBlacklist", project.clusterResourceBlacklist),
                    ("namespaceResourceWhitelist", project.namespaceResourceWhitelist), ("namespaceResourceBlacklist", project.namespaceResourceBlacklist),
                ] {
                    guard let list, key.hasSuffix("Whitelist") || !list.isEmpty else { continue }
                    lines.append("    \(key): [\(list.map { "{ group: \(Self.quoted($0.group.pattern)), kind: \(Self.quoted($0.kind.pattern)) }" }.joined(separator: ", "))]")
                }
            }
        }
        if !self.apps.isEmpty {
            lines.append("apps:")
            for app in self.apps {
                lines.append("  - name: \(Self.quoted(app.name))          # from \(app.declaredAt)")
                lines.append("    project: \(Self.quoted(app.project))")
                var source = ["repoURL: \(Self.quoted(Self.redacted(app.source.repoURL)))", "targetRevision: \(Self.quoted(app.source.targetRevision))"]
                if !app.source.path.isEmpty { source.append("path: \(Self.quoted(app.source.path))") }
                if app.source.recurse { source.append("directory: { recurse: true }") }
                if !app.source.substitute.isEmpty {
                    source.append("substitute: { \(app.source.substitute.sorted { $0.key < $1.key }.map { "\($0.key): \(Self.quoted($0.value))" }.joined(separator: ", ")) }")
                }
                lines.append("    source: { \(source.joined(separator: ", ")) }")
                lines.append("    destination: { \(Self.destination(app)) }")
                lines.append("    syncPolicy:")
                if let automated = app.syncPolicy.automated {
                    lines.append("      automated: { prune: \(automated.prune), selfHeal: \(automated.selfHeal), allowEmpty: \(automated.allowEmpty) }")
                } else {
                    lines.append("      # manual: no automated key")
                }
                let options = app.syncPolicy.options
                var syncOptions: [String] = []
                if options.createNamespace { syncOptions.append("CreateNamespace=true") }
                if options.prunePropagationPolicy != "Foreground" { syncOptions.append("PrunePropagationPolicy=\(options.prunePropagationPolicy.lowercased())") }
                if !options.force { syncOptions.append("ForceConflicts=false") }
                if options.pruneLast { syncOptions.append("PruneLast=true") }
                if !syncOptions.isEmpty { lines.append("      syncOptions: [\(syncOptions.joined(separator: ", "))]") }
                let retry = app.syncPolicy.retry
                lines.append(
                    "      retry: { limit: \(retry.limit), backoff: { duration: \(Self.duration(retry.duration)), factor: \(Self.number(retry.factor)), maxDuration: \(Self.duration(retry.maxDuration)) } }"
                )
                lines.append("      interval: \(Self.duration(app.syncPolicy.interval))")
                if let wait = app.syncPolicy.waitForHealth { lines.append("      waitForHealth: \(Self.duration(wait))") }
                if !app.ignoreDifferences.isEmpty {
                    lines.append("    driftIgnoreRules:")
                    for rule in app.ignoreDifferences {
                        let target = [("group", rule.group), ("kind", rule.kind), ("name", rule.name), ("namespace", rule.namespace)].compactMap { key, value in
                            value.map { "\(key): \(Self.quoted($0))" }
                        }
                        let pointers = rule.jsonPointers.map(Self.quoted).joined(separator: ", ")
                        lines.append("      - { paths: [\(pointers)]\(target.isEmpty ? "" : ", target: { \(target.joined(separator: ", ")) }") }")
                    }
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func destination(_ app: AppSettings) -> String {
        switch app.destination {
        case .directory(let path):
            return (app.cluster.map { "name: \(Self.quoted($0)), " } ?? "") + "directory: \(Self.quoted(path))"
        case .git(let url, let branch, let path):
            return (app.cluster.map { "name: \(Self.quoted($0)), " } ?? "") + "git: { repoURL: \(Self.quoted(url)), branch: \(Self.quoted(branch)), path: \(Self.quoted(path)) }"
        case .kubernetes(let cluster, let namespace):
            let target = cluster.isEmpty ? "server: \(Self.quoted(app.destinationServer ?? ""))" : "name: \(Self.quoted(cluster))"
            return target + (namespace.map { ", namespace: \(Self.quoted($0))" } ?? "")
        }
    }

    /// A URL's password is not printed: `https://user:REDACTED@host/...` (credentials go in `repositories`).
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "REDACTED"
        return components.string ?? url
    }

    /// A JSON string is a YAML double-quoted scalar: nothing in it is read as anything else.
    private static func quoted(_ text: String) -> String {
        String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self).replacingOccurrences(of: "\\/", with: "/")
    }

    private static func duration(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }

    private static func number(_ value: Double) -> String {
        value.rounded() == value ? String(Int(value)) : String(value)
    }
}
