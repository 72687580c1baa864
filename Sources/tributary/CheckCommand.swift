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

    /// Helm and plugin programs apps need that this machine does not have (workers need them).
    static func missingRenderers(_ configuration: TributaryConfiguration) -> [String] {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        func found(_ program: String) -> Bool {
            program.contains("/") ? FileManager.default.isExecutableFile(atPath: program) : path.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(program)") }
        }
        var warnings: [String] = []
        for app in configuration.apps {
            let name = app.source.helm != nil ? RendererSettings.helmName : app.source.plugin?.name
            guard let name, let renderer = configuration.renderer(named: name), let program = renderer.generate.first, !found(program) else { continue }
            warnings.append("\(app.declaredAt): apps.\(app.name): \(name == RendererSettings.helmName ? "helm" : "plugin \(name)") runs \(program), which is not \(program.contains("/") ? "there" : "on PATH") here; the workers that sync it need it")
        }
        return warnings
    }

    func run() throws {
        do {
            let configuration = try TributaryConfiguration.load(path: self.config)
            // Templates are compiled by the notifier at start; compile them here too, so a broken one
            // is found before deployment.
            _ = try NotificationTemplates(configuration.notifications.templates, file: self.config)
            for warning in configuration.warnings + Self.missingRenderers(configuration) {
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
