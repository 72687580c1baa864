import ArgumentParser
import Foundation
import TributaryCore
import TributaryNotify

/// `tributary check`: validates a configuration file without starting anything.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a configuration file; errors name the file, line and key."
    )

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    func run() throws {
        do {
            let configuration = try TributaryConfiguration.load(path: self.config)
            // Templates are compiled by the notifier at start; compile them here too, so a broken one
            // is found before deployment.
            _ = try NotificationTemplates(configuration.notifications.templates, file: self.config)
            for warning in configuration.warnings {
                FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
            }
            printLine("\(self.config): OK")
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        } catch let error as NotifierSetupError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
