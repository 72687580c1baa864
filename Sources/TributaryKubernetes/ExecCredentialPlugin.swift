import Foundation
import Synchronization

/// A kubeconfig `user.exec` credential plugin (`aws eks get-token`, `gke-gcloud-auth-plugin`,
/// `kubelogin`), run as kubectl runs it: the command with its arguments and extra environment,
/// `KUBERNETES_EXEC_INFO` describing the request, an `ExecCredential` read from its standard
/// output. Only token credentials are taken; a plugin that answers with a client certificate is
/// refused with a clear error (the TLS client would have to be rebuilt on every rotation).
public struct ExecCredentialPlugin: Sendable {
    public var apiVersion: String
    public var command: String
    public var arguments: [String]
    public var environment: [String: String]
    /// `interactiveMode`: `Never`, `IfAvailable` or `Always`. A worker has no terminal, so `Always`
    /// is refused.
    public var interactiveMode: String
    /// `installHint`, shown when the command is missing.
    public var installHint: String?

    public init(apiVersion: String, command: String, arguments: [String] = [], environment: [String: String] = [:], interactiveMode: String = "IfAvailable", installHint: String? = nil) {
        self.apiVersion = apiVersion
        self.command = command
        self.arguments = arguments
        self.environment = environment
        self.interactiveMode = interactiveMode
        self.installHint = installHint
    }

    /// A token and when it expires (nil: until the server refuses it).
    public struct Credential: Sendable {
        public var token: String
        public var expiresAt: Date?
    }

    /// Runs the plugin once.
    ///
    /// - Throws: `KubernetesError.credentials` naming the command and what went wrong; the
    ///   plugin's output is not echoed (it may hold the credential).
    public func run() async throws -> Credential {
        guard self.interactiveMode != "Always" else {
            throw KubernetesError(code: .credentials, message: "exec plugin \(self.command) needs a terminal (interactiveMode: Always); a worker has none")
        }
        let info = #"{"apiVersion":"\#(self.apiVersion)","kind":"ExecCredential","spec":{"interactive":false}}"#
        let output = try await Self.execute(self.command, self.arguments, environment: self.environment.merging(["KUBERNETES_EXEC_INFO": info]) { _, new in new }, hint: self.installHint)
        return try Self.credential(from: output, command: self.command)
    }

    /// Reads an `ExecCredential` (`client.authentication.k8s.io/v1` or `v1beta1`).
    static func credential(from output: [UInt8], command: String) throws -> Credential {
        guard let document = try? JSONValue(json: output), document["kind"]?.string == "ExecCredential", let status = document["status"] else {
            throw KubernetesError(code: .credentials, message: "exec plugin \(command) did not print an ExecCredential")
        }
        if status["clientCertificateData"] != nil {
            throw KubernetesError(code: .credentials, message: "exec plugin \(command) answers with a client certificate; Tributary takes token credentials from plugins only")
        }
        guard let token = status["token"]?.string, !token.isEmpty else {
            throw KubernetesError(code: .credentials, message: "exec plugin \(command) printed an ExecCredential without a token")
        }
        let expiresAt = status["expirationTimestamp"]?.string.flatMap { try? Date($0, strategy: .iso8601) }
        return Credential(token: token, expiresAt: expiresAt)
    }

    private static func execute(_ command: String, _ arguments: [String], environment: [String: String], hint: String?) async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { continuation in
            // Process and the pipe read block: off the cooperative pool.
            DispatchQueue.global().async {
                let process = Process()
                let executable = command.contains("/") ? command : Self.lookUp(command)
                guard let executable else {
                    continuation.resume(throwing: KubernetesError(code: .credentials, message: "exec plugin \(command) is not on PATH\(hint.map { ": \($0)" } ?? "")"))
                    return
                }
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
                process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
                let output = Pipe()
                process.standardOutput = output
                process.standardError = FileHandle.nullDevice
                process.standardInput = FileHandle.nullDevice
                do {
                    try process.run()
                } catch {
                    continuation.resume(throwing: KubernetesError(code: .credentials, message: "exec plugin \(command) could not be started: \(error.localizedDescription)"))
                    return
                }
                // A plugin that hangs (waiting on a browser login, a dead metadata server) must not
                // hold the sync forever: kubectl has no limit, a worker does.
                let timedOut = Mutex(false)
                DispatchQueue.global().asyncAfter(deadline: .now() + Self.timeout) {
                    if process.isRunning {
                        timedOut.withLock { $0 = true }
                        process.terminate()
                    }
                }
                let data = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                if timedOut.withLock({ $0 }) {
                    continuation.resume(throwing: KubernetesError(code: .credentials, message: "exec plugin \(command) did not answer within \(Int(Self.timeout)) s"))
                    return
                }
                guard process.terminationStatus == 0 else {
                    continuation.resume(throwing: KubernetesError(code: .credentials, message: "exec plugin \(command) exited with status \(process.terminationStatus)"))
                    return
                }
                continuation.resume(returning: Array(data))
            }
        }
    }

    static let timeout: TimeInterval = 60

    private static func lookUp(_ command: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(command)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
