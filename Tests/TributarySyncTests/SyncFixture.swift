import Foundation
import Logging
import TributaryCore
import TributaryGit
import TributarySync
import TributaryTestSupport

/// A source repository served by `git daemon`, a place for targets, and an engine configured by YAML.
final class SyncFixture: @unchecked Sendable {
    let git: GitFixture
    let daemon: GitDaemon
    let targets: URL
    let logger: Logger

    init() throws {
        self.git = try GitFixture()
        self.daemon = try GitDaemon(serving: self.git.served, allowPush: true)
        self.targets = self.git.root.appendingPathComponent("targets")
        try FileManager.default.createDirectory(at: self.targets, withIntermediateDirectories: true)
        var logger = Logger(label: "tributary.tests")
        logger.logLevel = ProcessInfo.processInfo.environment["TRIBUTARY_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        self.logger = logger
    }

    var repoURL: String { self.daemon.url("infra.git") }
    var repositoryKey: String { RepositoryKey(url: self.repoURL)!.rawValue }

    func targetPath(_ app: String) -> String { self.targets.appendingPathComponent(app).path }

    /// An app entry for the YAML `apps:` list, syncing `apps/<name>` to a directory.
    func app(_ name: String, path: String? = nil, prune: Bool = true, selfHeal: Bool = false, project: String = "default", destination: String? = nil, extra: String = "") -> String {
        """
          - name: \(name)
            project: \(project)
            source: { repoURL: "\(self.repoURL)", targetRevision: main, path: \(path ?? "apps/\(name)") }
            destination: \(destination ?? "{ directory: \"\(self.targetPath(name))\" }")
            syncPolicy:
              automated: { prune: \(prune), selfHeal: \(selfHeal) }
              retry: { limit: 2, backoff: { duration: 100ms, factor: 2, maxDuration: 1s } }
              interval: 1s
        \(extra)
        """
    }

    func configuration(apps: [String], projects: String = "") throws -> TributaryConfiguration {
        try TributaryConfiguration.parse(yaml: projects + "\napps:\n" + apps.joined(separator: "\n"), file: "test.yaml")
    }

    func engine(_ configuration: TributaryConfiguration, mirrors: String = "mirrors") throws -> SyncEngine {
        let cache = GitMirrorCache(directory: self.git.root.appendingPathComponent(mirrors), logger: self.logger)
        return try SyncEngine(configuration: configuration, mirrors: cache, parallelism: 4, logger: self.logger)
    }

    func change(after: String, before: String = String(repeating: "0", count: 40), delivery: String = UUID().uuidString) -> ChangeEvent {
        ChangeEvent(
            provider: "github",
            deliveryID: delivery,
            repository: .init(key: self.repositoryKey, cloneURLs: [self.repoURL]),
            ref: "refs/heads/main",
            before: before,
            after: after
        )
    }

    func read(_ app: String, _ file: String) -> String? {
        try? String(contentsOfFile: "\(self.targetPath(app))/\(file)", encoding: .utf8)
    }

    static func configMap(_ name: String, _ value: String) -> String {
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: \(name)
          namespace: shop
        data:
          value: "\(value)"

        """
    }
}
