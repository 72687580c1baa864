import ArgumentParser

/// `tributary diff`: `tributary render --diff`, under the name Argo CD users type (`argocd app diff`).
struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Print what a sync of the app would change in its target (as render --diff); exit status 1 when something would."
    )

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    @Option(name: .long, help: "The app to compare.")
    var app: String

    @Option(name: .long, help: "A branch, tag or SHA; default the app's targetRevision.")
    var revision: String?

    @Option(name: .long, help: "Where the git mirrors live.")
    var dataDir: String = ".tributary"

    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "warning"

    func run() async throws {
        var render = try RenderCommand.parse(["--config", self.config, "--app", self.app, "--diff", "--data-dir", self.dataDir, "--log-level", self.logLevel])
        render.revision = self.revision
        try await render.run()
    }
}
