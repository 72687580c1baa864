import ArgumentParser

@main
struct Tributary: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary",
        abstract: "Git-webhook-driven GitOps event processor on Kafka.",
        version: "0.1.0",
        subcommands: [
            DevCommand.self, BrokerCommand.self, ListenCommand.self, PlanCommand.self, WorkerCommand.self, NotifyCommand.self,
            RenderCommand.self, CheckCommand.self, ImportCommand.self, SyncCommand.self, DiffCommand.self, SuspendCommand.self, ResumeCommand.self,
            ServerCommand.self, TailCommand.self, CreateTopicsCommand.self,
        ]
    )
}
