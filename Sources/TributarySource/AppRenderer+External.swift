import Foundation
import TributaryCore
import TributaryGit
import TributaryRender

extension AppRenderer {
    /// Renders a Helm or plugin source in a temporary checkout of the repository.
    static func renderExternally(
        _ app: AppSettings, at commit: String, files: [SourceFile], renderers: [RendererSettings], cluster: ClusterFacts?
    ) async throws -> [Manifest] {
        let path = app.source.path.isEmpty ? "." : app.source.path
        let checkout = try SourceCheckout.write(files)
        defer { checkout.remove() }
        var environment = Self.baseEnvironment(home: checkout.home)
        var commands: [(arguments: [String], settings: RendererSettings, name: String)] = []
        if let helm = app.source.helm {
            let settings = renderers.first { $0.name == RendererSettings.helmName } ?? RendererSettings(name: RendererSettings.helmName, generate: ["helm"])
            var valuesFile: String?
            if let values = helm.values {
                valuesFile = checkout.directory + "/values-inline.yaml"
                guard FileManager.default.createFile(atPath: valuesFile!, contents: Data(values.utf8), attributes: [.posixPermissions: 0o600]) else {
                    throw RenderError(file: path, message: "cannot write the inline values to \(checkout.directory)")
                }
            }
            let arguments = try Self.helmArguments(
                app, helm: helm, inlineValuesFile: valuesFile, cluster: cluster, repositoryFiles: Set(files.map(\.path))
            )
            for name in ["HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"] { environment[name] = checkout.home + "/" + name.lowercased() }
            commands.append((settings.generate + arguments, settings, "helm template"))
        } else if let plugin = app.source.plugin {
            guard let settings = renderers.first(where: { $0.name == plugin.name && $0.name != RendererSettings.helmName }) else {
                throw RenderError(file: path, message: "no plugin named \(plugin.name) is configured")
            }
            environment.merge(Self.pluginEnvironment(app, plugin: plugin, revision: commit, cluster: cluster)) { _, new in new }
            if let initialize = settings.initialize { commands.append((initialize, settings, "plugin \(plugin.name) init")) }
            commands.append((settings.generate, settings, "plugin \(plugin.name)"))
        }
        var output: [UInt8] = []
        for (arguments, settings, name) in commands {
            var environment = environment
            for variable in settings.passEnvironment {
                if let value = getenv(variable) { environment[variable] = String(cString: value) }
            }
            let command = ExternalCommand(
                arguments: arguments, environment: environment, timeout: settings.timeout, maxOutputBytes: settings.maxOutputBytes, displayName: name
            )
            output = try await command.run(in: checkout.root + "/" + path, reportingAt: path)
        }
        return try ManifestRenderer.render(output: output, reportingAt: "\(path) (\(commands.last?.name ?? "") output)")
    }

    /// What every external renderer gets: PATH, and a HOME of its own (removed with the checkout).
    static func baseEnvironment(home: String) -> [String: String] {
        ["PATH": getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin", "HOME": home]
    }

    /// `helm template` arguments after the binary, as Argo CD builds them: release name and chart
    /// directory, namespace, the destination's Kubernetes and API versions, CRDs, value files (from
    /// the chart directory, inside the repository), the inline values, then parameters.
    ///
    /// - Throws: `RenderError` for a value file that leaves the repository, or that is missing
    ///   without `ignoreMissingValueFiles`.
    static func helmArguments(
        _ app: AppSettings, helm: AppSettings.Source.Helm, inlineValuesFile: String?, cluster: ClusterFacts?, repositoryFiles: Set<String>
    ) throws -> [String] {
        let chart = app.source.path
        var namespace = helm.namespace
        if namespace == nil, case .kubernetes(_, let destination) = app.destination { namespace = destination }
        var arguments = ["template", helm.releaseName ?? app.name, "."]
        if let namespace, !namespace.isEmpty { arguments += ["--namespace", namespace] }
        if let cluster {
            arguments += ["--kube-version", cluster.kubeVersion]
            for version in cluster.apiVersions { arguments += ["--api-versions", version] }
        }
        arguments.append(helm.skipCrds ? "--skip-crds" : "--include-crds")
        for file in helm.valueFiles {
            guard !file.hasPrefix("/"), let resolved = ManifestRenderer.repositoryPath(chart, file) else {
                throw RenderError(file: chart.isEmpty ? "." : chart, message: "value file \(file) is outside the repository")
            }
            guard repositoryFiles.contains(resolved) else {
                if helm.ignoreMissingValueFiles { continue }
                throw RenderError(file: chart.isEmpty ? "." : chart, message: "value file \(file) does not exist (\(resolved)); set ignoreMissingValueFiles to skip missing ones")
            }
            arguments += ["--values", file]
        }
        if let inlineValuesFile { arguments += ["--values", inlineValuesFile] }
        for parameter in helm.parameters {
            // Helm splits --set on unescaped commas.
            let value = parameter.value.replacingOccurrences(of: ",", with: "\\,")
            arguments += [parameter.forceString ? "--set-string" : "--set", "\(parameter.name)=\(value)"]
        }
        return arguments
    }

    /// A config-management plugin's environment, as Argo CD's CMP server builds it.
    static func pluginEnvironment(_ app: AppSettings, plugin: AppSettings.Source.Plugin, revision: String, cluster: ClusterFacts?) -> [String: String] {
        var namespace = ""
        if case .kubernetes(_, let destination) = app.destination { namespace = destination ?? "" }
        var environment = [
            "ARGOCD_APP_NAME": app.name,
            "ARGOCD_APP_NAMESPACE": namespace,
            "ARGOCD_APP_PROJECT_NAME": app.project,
            "ARGOCD_APP_REVISION": revision,
            "ARGOCD_APP_REVISION_SHORT": String(revision.prefix(7)),
            "ARGOCD_APP_SOURCE_PATH": app.source.path.isEmpty ? "." : app.source.path,
            "ARGOCD_APP_SOURCE_REPO_URL": GitRemote.redactingCredentials(app.source.repoURL),
            "ARGOCD_APP_SOURCE_TARGET_REVISION": app.source.targetRevision,
        ]
        if let cluster {
            environment["KUBE_VERSION"] = cluster.kubeVersion
            environment["KUBE_API_VERSIONS"] = cluster.apiVersions.joined(separator: ",")
        }
        for (name, value) in plugin.env { environment["ARGOCD_ENV_" + name] = value }
        for (name, value) in plugin.parameters {
            let variable = String(name.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
            environment["PARAM_" + variable] = value
        }
        var json = JSONWriter()
        json.beginArray()
        for (name, value) in plugin.parameters {
            json.beginObject()
            json.key("name")
            json.string(name)
            json.key("string")
            json.string(value)
            json.endObject()
        }
        json.endArray()
        environment["ARGOCD_APP_PARAMETERS"] = String(decoding: json.bytes, as: UTF8.self)
        return environment
    }
}
