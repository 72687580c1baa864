import TributaryCore
import TributaryGit
import TributaryRender

/// Renders an app's source at a commit from the mirror: what a worker applies and what
/// `tributary render` prints, by the same code.
public enum AppRenderer {
    /// - Returns: the manifests in apply order, and whether a kustomization was used (it may read
    ///   outside the app's path, so the caller cannot narrow changes to the path).
    /// - Throws: `GitError` reading the source, `RenderError` naming file and line.
    public static func render(_ app: AppSettings, at commit: String, in remote: GitRemote, mirrors: GitMirrorCache) async throws -> (manifests: [Manifest], usesKustomization: Bool) {
        var files = try await mirrors.files(at: commit, under: app.source.path, recursive: true, in: remote)
        let usesKustomization = files.contains { ManifestRenderer.kustomizationNames.contains($0.path.split(separator: "/").last.map(String.init) ?? "") }
        if usesKustomization {
            // `resources: [../base]` reaches outside the app's path: give the renderer the whole tree.
            files = try await mirrors.files(at: commit, under: "", recursive: true, in: remote)
        }
        let manifests = try ManifestRenderer.render(
            directory: app.source.path,
            files: files.map { SourceFile(path: $0.path, contents: $0.contents, isSymlink: $0.kind == .symlink) },
            options: RenderOptions(recurse: app.source.recurse, substitute: app.source.substitute)
        )
        return (manifests, usesKustomization)
    }
}
