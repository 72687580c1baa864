import ArgumentParser
import Foundation
import TributaryCore

/// `tributary import`: Argo CD and Flux definitions as Tributary's own configuration.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Print Argo CD Applications/AppProjects and Flux GitRepositories/Kustomizations as Tributary projects and apps; what cannot be carried over is listed on standard error with file and line."
    )

    @Option(name: .long, help: "The cluster Flux Kustomizations and Argo CD's in-cluster destination (https://kubernetes.default.svc) apply to.")
    var cluster: String?

    @Argument(help: "Files or directories of YAML definitions.")
    var paths: [String]

    func run() throws {
        let all: Definitions
        do {
            all = try Definitions.load(self.paths.map { ($0, self.cluster) })
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
        for warning in all.warnings {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        printLine(all.nativeYAML.trimmingCharacters(in: .newlines))
    }
}
