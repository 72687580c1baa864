import ArgumentParser

// The workers and notifier arrive in later releases; the commands exist now so
// that scripts and docs can name them, and they fail loudly rather than pretend to work.

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "worker", abstract: "Consume change events and sync apps (not available yet).")
    @OptionGroup var options: CommonOptions
    func run() async throws { throw NotAvailableYet(command: "worker") }
}

struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "notify", abstract: "Deliver notifications for sync events (not available yet).")
    @OptionGroup var options: CommonOptions
    func run() async throws { throw NotAvailableYet(command: "notify") }
}
