import ArgumentParser

/// `tributary diff`: `tributary render --diff`, under the name Argo CD users type (`argocd app diff`).
struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Print what a sync of the app would change in its target (as render --diff); exit status 1 when something would."
    )

    @OptionGroup var source: AppSourceOptions

    func run() async throws {
        var arguments = ["--config", self.source.config, "--app", self.source.app, "--diff", "--data-dir", self.source.dataDir, "--log-level", self.source.logLevel]
        if let revision = self.source.revision { arguments += ["--revision", revision] }
        // Parsed, not assigned: an unparsed command's options cannot be read.
        try await RenderCommand.parse(arguments).run()
    }
}
