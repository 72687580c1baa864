import ArgumentParser

// The notifier arrives in a later release; the command exists now so that scripts and docs can
// name it, and it fails loudly rather than pretend to work.

struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "notify", abstract: "Deliver notifications for sync events (not available yet).")
    @OptionGroup var options: CommonOptions
    func run() async throws { throw NotAvailableYet(command: "notify") }
}
