import Foundation
import Yams

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
                var directory: [String] = []
                if app.source.recurse { directory.append("recurse: true") }
                if !app.source.jsonnet.isEmpty { directory.append("jsonnet: \(Self.jsonnet(app.source.jsonnet))") }
                if !directory.isEmpty { source.append("directory: { \(directory.joined(separator: ", ")) }") }
                if let kustomize = app.source.kustomize { source.append("kustomize: \(Self.kustomize(kustomize))") }
                if let helm = app.source.helm { source.append("helm: \(Self.helm(helm))") }
                if let plugin = app.source.plugin {
                    var fields = ["name: \(Self.quoted(plugin.name))"]
                    if !plugin.env.isEmpty { fields.append("env: [\(plugin.env.map { "{ name: \(Self.quoted($0.name)), value: \(Self.quoted($0.value)) }" }.joined(separator: ", "))]") }
                    if !plugin.parameters.isEmpty {
                        fields.append("parameters: [\(plugin.parameters.map { "{ name: \(Self.quoted($0.name)), string: \(Self.quoted($0.value)) }" }.joined(separator: ", "))]")
                    }
                    source.append("plugin: { \(fields.joined(separator: ", ")) }")
                }
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

    private static func jsonnet(_ jsonnet: AppSettings.Source.Jsonnet) -> String {
        func variables(_ list: [AppSettings.Source.Jsonnet.Variable]) -> String {
            "[\(list.map { "{ name: \(Self.quoted($0.name)), value: \(Self.quoted($0.value))\($0.code ? ", code: true" : "") }" }.joined(separator: ", "))]"
        }
        var fields: [String] = []
        if !jsonnet.extVars.isEmpty { fields.append("extVars: \(variables(jsonnet.extVars))") }
        if !jsonnet.tlas.isEmpty { fields.append("tlas: \(variables(jsonnet.tlas))") }
        if !jsonnet.libs.isEmpty { fields.append("libs: [\(jsonnet.libs.map(Self.quoted).joined(separator: ", "))]") }
        return "{ \(fields.joined(separator: ", ")) }"
    }

    private static func kustomize(_ kustomize: AppSettings.Source.Kustomize) -> String {
        func map(_ values: [String: String]) -> String {
            "{ \(values.sorted { $0.key < $1.key }.map { "\(Self.quoted($0.key)): \(Self.quoted($0.value))" }.joined(separator: ", ")) }"
        }
        var fields: [String] = []
        for (key, value) in [("namePrefix", kustomize.namePrefix), ("nameSuffix", kustomize.nameSuffix), ("namespace", kustomize.namespace)] {
            if let value { fields.append("\(key): \(Self.quoted(value))") }
        }
        if !kustomize.images.isEmpty { fields.append("images: [\(kustomize.images.map(Self.quoted).joined(separator: ", "))]") }
        if !kustomize.commonLabels.isEmpty { fields.append("commonLabels: \(map(kustomize.commonLabels))") }
        if !kustomize.commonAnnotations.isEmpty { fields.append("commonAnnotations: \(map(kustomize.commonAnnotations))") }
        if kustomize.forceCommonLabels { fields.append("forceCommonLabels: true") }
        if kustomize.forceCommonAnnotations { fields.append("forceCommonAnnotations: true") }
        if !kustomize.replicas.isEmpty { fields.append("replicas: [\(kustomize.replicas.map { "{ name: \(Self.quoted($0.name)), count: \($0.count) }" }.joined(separator: ", "))]") }
        // Each patch as JSON (a YAML flow mapping): the entries were mappings when read.
        if !kustomize.patches.isEmpty {
            let patches = kustomize.patches.compactMap { patch -> String? in
                guard let object = try? Yams.load(yaml: patch), let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return nil }
                return String(decoding: data, as: UTF8.self)
            }
            fields.append("patches: [\(patches.joined(separator: ", "))]")
        }
        return "{ \(fields.joined(separator: ", ")) }"
    }

    private static func helm(_ helm: AppSettings.Source.Helm) -> String {
        var fields: [String] = []
        if let name = helm.releaseName { fields.append("releaseName: \(Self.quoted(name))") }
        if let namespace = helm.namespace { fields.append("namespace: \(Self.quoted(namespace))") }
        if !helm.valueFiles.isEmpty { fields.append("valueFiles: [\(helm.valueFiles.map(Self.quoted).joined(separator: ", "))]") }
        if let values = helm.values { fields.append("values: \(Self.quoted(values))") }
        if !helm.parameters.isEmpty {
            let parameters = helm.parameters.map { "{ name: \(Self.quoted($0.name)), value: \(Self.quoted($0.value))\($0.forceString ? ", forceString: true" : "") }" }
            fields.append("parameters: [\(parameters.joined(separator: ", "))]")
        }
        if helm.skipCrds { fields.append("skipCrds: true") }
        if helm.ignoreMissingValueFiles { fields.append("ignoreMissingValueFiles: true") }
        return "{ \(fields.joined(separator: ", ")) }"
    }

    private static func destination(_ app: AppSettings) -> String {
        switch app.destination {
        case .directory(let path):
            return (app.cluster.map { "name: \(Self.quoted($0)), " } ?? "") + "directory: \(Self.quoted(path))"
        case .git(let url, let branch, let path):
            return (app.cluster.map { "name: \(Self.quoted($0)), " } ?? "") + "git: { repoURL: \(Self.quoted(url)), branch: \(Self.quoted(branch)), path: \(Self.quoted(path)) }"
        case .kubernetes(let cluster, let namespace):
            let target = cluster.isEmpty ? "server: \(Self.quoted(app.destinationServer ?? ""))" : "name: \(Self.quoted(cluster))"
            return target + (namespace.map { ", namespace: \(Self.quoted($0))" } ?? "") + (app.overrideNamespace ? ", overrideNamespace: true" : "")
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
