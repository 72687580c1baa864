import Foundation
import Subprocess

#if canImport(System)
import System
#else
import SystemPackage
#endif

/// A program that prints manifests (`helm template`, a config-management plugin's `generate`),
/// run with only the environment it is given, in its own process group, killed with all its
/// children at its timeout or when it prints more than its cap.
public struct ExternalCommand: Sendable {
    /// The program (a path, or a name looked up on the given `PATH`) and its arguments.
    public var arguments: [String]
    /// The whole environment: nothing of the worker's is inherited.
    public var environment: [String: String]
    public var timeout: Duration
    /// Standard output beyond this many bytes fails the run.
    public var maxOutputBytes: Int
    /// How errors name the program: `helm`, `plugin cue`.
    public var displayName: String

    /// What is kept of standard error for an error message.
    static let errorBytes = 64 * 1024

    public init(arguments: [String], environment: [String: String], timeout: Duration, maxOutputBytes: Int, displayName: String) {
        self.arguments = arguments
        self.environment = environment
        self.timeout = timeout
        self.maxOutputBytes = maxOutputBytes
        self.displayName = displayName
    }

    /// Runs the program in `directory`.
    ///
    /// - Parameter file: what a failure is reported against (the app's path).
    /// - Returns: its standard output.
    /// - Throws: `RenderError` at `file`: not found, timed out, output too large, or a non-zero
    ///   exit with the end of its standard error.
    public func run(in directory: String, reportingAt file: String) async throws -> [UInt8] {
        guard let program = self.arguments.first else { throw RenderError(file: file, message: "\(self.displayName): no command") }
        // Looked up first, so a missing program is named at once rather than racing the timeout.
        let searchPath = (self.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        let found = program.contains("/") ? FileManager.default.isExecutableFile(atPath: program) : searchPath.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(program)") }
        guard found else {
            throw RenderError(file: file, message: "\(self.displayName): \(program) was not found\(program.contains("/") ? "" : " on PATH")")
        }
        let limit = self.maxOutputBytes
        let timeout = self.timeout
        let outcome: Outcome
        do {
            outcome = try await withThrowingTaskGroup(of: Outcome.self) { group in
                group.addTask {
                    let executable: Executable = program.contains("/") ? .path(FilePath(program)) : .name(program)
                    var options = PlatformOptions()
                    // Its own process group, so a timeout kills what it started too (a shell's children
                    // hold the output pipe open and would otherwise keep the read waiting).
                    options.processGroupID = 0
                    options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(2))]
                    let environment = Environment.custom(Dictionary(uniqueKeysWithValues: self.environment.map { (Environment.Key(stringLiteral: $0.key), $0.value) }))
                    let result = try await Subprocess.run(
                        executable, arguments: Arguments(Array(self.arguments.dropFirst())), environment: environment,
                        workingDirectory: FilePath(directory), platformOptions: options,
                        output: .bytes(limit: limit), error: .bytes(limit: Self.errorBytes)
                    )
                    let status: Int32? = if case .exited(let code) = result.terminationStatus { code } else { nil }
                    return .finished(status: status, output: result.standardOutput, error: result.standardError)
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return .timedOut
                }
                let first = try await group.next()!
                group.cancelAll()
                return first
            }
        } catch let error as SubprocessError {
            throw RenderError(file: file, message: self.describe(error))
        }
        switch outcome {
        case .timedOut:
            throw RenderError(file: file, message: "\(self.displayName) did not finish within \(Self.seconds(timeout)); it was killed")
        case .finished(let status, let output, let error):
            guard status == 0 else {
                let how = status.map { "exited with status \($0)" } ?? "was killed by a signal"
                let detail = Self.tail(of: error)
                throw RenderError(file: file, message: "\(self.displayName) \(how)\(detail.isEmpty ? "" : ": \(detail)")")
            }
            return output
        }
    }

    private enum Outcome: Sendable {
        case finished(status: Int32?, output: [UInt8], error: [UInt8])
        case timedOut
    }

    private func describe(_ error: SubprocessError) -> String {
        switch error.code {
        case .outputLimitExceeded:
            return "\(self.displayName) printed more than \(self.maxOutputBytes) bytes; it was stopped (raise maxOutputBytes if that is expected)"
        case .executableNotFound:
            return "\(self.displayName): \(self.arguments[0]) was not found\(self.arguments[0].contains("/") ? "" : " on PATH")"
        default:
            return "\(self.displayName) could not be run: \(error)"
        }
    }

    /// The last lines of standard error, at most about 2,000 characters.
    static func tail(of error: [UInt8]) -> String {
        let text = String(decoding: error, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count > 2000 else { return text }
        return "…" + String(text.suffix(2000))
    }

    static func seconds(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}
