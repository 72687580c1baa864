import TributaryCore
import TributaryGit
import TributaryRender

/// Renders an app's source at a commit from the mirror: what a worker applies and what
/// `tributary render` prints, by the same code.
public enum AppRenderer {
    /// - Parameters:
    ///   - renderers: the configuration's `helm` and `plugins`.
    ///   - cluster: the destination's version and API versions, for Helm and plugins; nil when unknown.
    /// - Returns: the manifests in apply order, and whether files outside the app's path may have
    ///   been read (a kustomization's `../base`, a Jsonnet import, a chart's `../common` value
    ///   file): the caller then cannot narrow changes to the path.
    /// - Throws: `GitError` reading the source, `RenderError` naming file and line.
    public static func render(
        _ app: AppSettings, at commit: String, in remote: GitRemote, mirrors: GitMirrorCache,
        renderers: [RendererSettings] = [], cluster: ClusterFacts? = nil
    ) async throws -> (manifests: [Manifest], readsOutsidePath: Bool) {
        if app.source.helm != nil || app.source.plugin != nil {
            // Charts and plugins may read anywhere in the repository, as in Argo CD's checkout.
            let files = try await mirrors.files(at: commit, under: "", recursive: true, in: remote).map(Self.sourceFile)
            let manifests = try await Self.renderExternally(app, at: commit, files: files, renderers: renderers, cluster: cluster)
            return (manifests, true)
        }
        var files = try await mirrors.files(at: commit, under: app.source.path, recursive: true, in: remote)
        let readsOutsidePath = Self.readsOutsidePath(app.source, paths: files.map(\.path))
        if readsOutsidePath {
            // `resources: [../base]` and Jsonnet imports and libs reach outside the app's path:
            // give the renderer the whole tree.
            files = try await mirrors.files(at: commit, under: "", recursive: true, in: remote)
        }
        let manifests = try ManifestRenderer.render(directory: app.source.path, files: files.map(Self.sourceFile), options: Self.options(of: app.source))
        return (manifests, readsOutsidePath)
    }

    /// The source's settings as the renderer takes them.
    static func options(of source: AppSettings.Source) -> RenderOptions {
        let jsonnet = source.jsonnet
        var options = RenderOptions(
            recurse: source.recurse, substitute: source.substitute,
            jsonnet: JsonnetOptions(
                extVars: jsonnet.extVars.map { .init(name: $0.name, value: $0.value, code: $0.code) },
                tlas: jsonnet.tlas.map { .init(name: $0.name, value: $0.value, code: $0.code) },
                libs: jsonnet.libs
            )
        )
        if let kustomize = source.kustomize {
            options.kustomize.namePrefix = kustomize.namePrefix
            options.kustomize.nameSuffix = kustomize.nameSuffix
            options.kustomize.namespace = kustomize.namespace
            options.kustomize.images = kustomize.images
            options.kustomize.commonLabels = kustomize.commonLabels
            options.kustomize.commonAnnotations = kustomize.commonAnnotations
            options.kustomize.forceCommonLabels = kustomize.forceCommonLabels
            options.kustomize.forceCommonAnnotations = kustomize.forceCommonAnnotations
            options.kustomize.replicas = kustomize.replicas.map { .init(name: $0.name, count: $0.count) }
            options.kustomize.patches = kustomize.patches
        }
        return options
    }

    /// Whether rendering a source whose path holds `paths` may read files outside the path: a
    /// kustomization (`../base`), Jsonnet (imports, libs), a Helm chart or a plugin.
    public static func readsOutsidePath(_ source: AppSettings.Source, paths: [String]) -> Bool {
        if source.helm != nil || source.plugin != nil { return true }
        return paths.contains { path in
            let name = path.split(separator: "/").last.map(String.init) ?? ""
            return ManifestRenderer.kustomizationNames.contains(name) || name.hasSuffix(".jsonnet")
        }
    }

    static func sourceFile(_ file: GitFile) -> SourceFile {
        SourceFile(path: file.path, contents: file.contents, isSymlink: file.kind == .symlink, isExecutable: file.kind == .executable)
    }
}
