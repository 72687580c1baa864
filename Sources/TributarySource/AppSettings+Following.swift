import TributaryCore
import TributaryGit

extension TributaryConfiguration {
    /// The apps that follow the ref a change pushed to, in configuration order, whatever their cluster.
    public func apps(following change: ChangeEvent) -> [AppSettings] {
        self.apps.filter { app in
            (RepositoryKey(url: app.source.repoURL)?.rawValue ?? app.source.repoURL) == change.repository.key && app.follows(ref: change.ref)
        }
    }
}

extension AppSettings {
    /// Whether this app's `targetRevision` follows pushes to `ref`.
    public func follows(ref: String) -> Bool {
        let targetRevision = self.source.targetRevision
        if targetRevision == "HEAD" { return ref.hasPrefix("refs/heads/") }  // the default branch; checked after fetching
        if isCommitID(targetRevision) { return false }  // pinned
        if targetRevision.hasPrefix("refs/") { return targetRevision == ref }
        return ref == "refs/heads/\(targetRevision)" || ref == "refs/tags/\(targetRevision)"
    }
}
