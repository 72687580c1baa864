import ArgumentParser
import Foundation
import Logging
import TributaryCore
import TributaryGit
import TributaryRender
import TributarySource
import TributarySync

/// `tributary render`: the manifests of an app at a revision, exactly as a worker would apply them.
struct RenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Fetch an app's source and print (or write) its rendered manifests in apply order."
    )

    @OptionGroup var source: AppSourceOptions

    @Option(name: .long, help: "A directory to write one file per resource into, or - for standard output.")
    var output: String = "-"

    @Flag(name: .long, help: "Print what a sync would change in the app's target — objects and fields of a cluster, files of a directory or branch — instead of the manifests; exit status 1 when something would.")
    var diff = false

    func run() async throws {
        let logger = try CommonOptions.parse(["--log-level", self.source.logLevel]).bootstrapLogging(label: "tributary.render")
        do {
            let configuration = try TributaryConfiguration.load(path: self.source.config)
            guard let app = configuration.app(named: self.source.app) else {
                throw ValidationError("no app named \(self.source.app) in \(self.source.config)")
            }
            let remote = try GitRemote(url: app.source.repoURL, repository: configuration.repository(for: app.source.repoURL))
            let cache = GitMirrorCache(directory: URL(fileURLWithPath: self.source.dataDir).appendingPathComponent("mirrors"), logger: logger)
            let commit = try await cache.fetchHead(of: self.source.revision ?? app.source.targetRevision, in: remote)
            var cluster: ClusterFacts?
            if app.source.helm != nil || app.source.plugin != nil, case .kubernetes = app.destination {
                // As a worker renders it: with the destination's versions, when it can be reached.
                do {
                    cluster = try await KubernetesTarget.make(for: app, in: configuration).clusterFacts()
                } catch {
                    logger.warning("Rendering without the destination cluster's versions: it could not be asked", metadata: ["error": "\(error)"])
                }
            }
            let manifests = try await AppRenderer.render(
                app, at: commit, in: remote, mirrors: cache, renderers: configuration.renderers, cluster: cluster
            ).manifests
            if self.diff {
                let prune = app.syncPolicy.automated?.prune ?? false
                switch app.destination {
                case .kubernetes:
                    let target = try KubernetesTarget.make(for: app, in: configuration)
                    let changes = try await target.diff(manifests, prune: prune)
                    if Self.print(changes, app: app.name, commit: commit, destination: target.destination) { throw ExitCode(1) }
                case .directory(let path):
                    if Self.print(try await DirectoryTarget(path: path).compare(manifests, prune: prune), app: app.name, commit: commit, destination: "directory:\(path)") {
                        throw ExitCode(1)
                    }
                case .git(let url, let branch, let path):
                    let target = GitBranchTarget(
                        remote: try GitRemote(url: url, repository: configuration.repository(for: url)), branch: branch, directory: path, app: app.name, mirrors: cache
                    )
                    if Self.print(try await target.compare(manifests, prune: prune), app: app.name, commit: commit, destination: target.destination) { throw ExitCode(1) }
                }
                return
            }
            try self.write(manifests, commit: commit)
        } catch let error as ConfigurationError {
            throw Failure(message: "\(error)")
        } catch let error as RenderError {
            throw Failure(message: "\(error)")
        } catch let error as GitError {
            throw Failure(message: error.message)
        } catch let error as SyncError {
            throw Failure(message: error.message)
        }
    }

    /// Prints a file target's difference: `+` created, `~` changed, `-` deleted; returns whether anything would change.
    static func print(_ difference: SyncEvent.Difference, app: String, commit: String, destination: String) -> Bool {
        printLine("# app \(app) at \(commit) against \(destination)")
        for file in difference.create { printLine("+ \(file)") }
        for file in difference.update { printLine("~ \(file)") }
        for file in difference.delete { printLine("- \(file)") }
        if difference.isEmpty { printLine("  in sync") }
        return !difference.isEmpty
    }

    /// Prints the diff as `+` create, `~` update (field by field), `-` prune, `!` orphaned;
    /// returns whether anything would change.
    static func print(_ changes: [ObjectDiff], app: String, commit: String, destination: String) -> Bool {
        printLine("# app \(app) at \(commit) against \(destination)")
        var changing = false
        for change in changes {
            switch change.change {
            case .create:
                printLine("+ \(change.object): created")
                changing = true
            case .update(let fields):
                printLine("~ \(change.object):")
                for field in fields { printLine("    \(field.path): \(field.old) → \(field.new)") }
                changing = true
            case .unchanged:
                printLine("  \(change.object): unchanged")
            case .prune:
                printLine("- \(change.object): pruned (no longer rendered)")
                changing = true
            case .orphan(let why):
                printLine("! \(change.object): no longer rendered; kept: \(why)")
            }
        }
        return changing
    }

    private func write(_ manifests: [Manifest], commit: String) throws {
        if self.output == "-" {
            printLine("# app \(self.source.app) at \(commit): \(manifests.count) resources")
            for manifest in manifests {
                printLine("---\n# Source: \(manifest.source)\n" + manifest.yaml.trimmingCharacters(in: .newlines))
            }
            return
        }
        let directory = URL(fileURLWithPath: self.output)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (index, manifest) in manifests.enumerated() {
            let name = [manifest.kind, manifest.namespace, manifest.name].filter { !$0.isEmpty }.joined(separator: "-").lowercased()
            let safe = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
            try Data(manifest.yaml.utf8).write(to: directory.appendingPathComponent(String(format: "%03d-%@.yaml", index, safe)), options: .atomic)
        }
        FileHandle.standardError.write(Data("wrote \(manifests.count) resources of \(self.source.app) at \(commit) to \(self.output)\n".utf8))
    }
}

/// Which app, at which revision, from which configuration: shared by `render` and `diff`.
struct AppSourceOptions: ParsableArguments {
    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    @Option(name: .long, help: "The app.")
    var app: String

    @Option(name: .long, help: "A branch, tag or SHA; default the app's targetRevision.")
    var revision: String?

    @Option(name: .long, help: "Where the git mirrors live.")
    var dataDir: String = ".tributary"

    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "warning"
}

/// A failure reported as `error: message` with exit status 1.
struct Failure: Error, CustomStringConvertible {
    var message: String
    var description: String { self.message }
}
