import Foundation

/// The `tributary` executable built by `swift build`, run as a child process.
struct TributaryProcess {
    /// `TRIBUTARY_BIN`, else `.build/debug/tributary` beside the package.
    static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["TRIBUTARY_BIN"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/tributary")
    }

    let process: Process
    let output: Pipe
    let errors: Pipe

    /// Starts `tributary arguments...`.
    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        self.process = Process()
        self.process.executableURL = Self.executable
        self.process.arguments = arguments
        self.process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        self.output = Pipe()
        self.errors = Pipe()
        self.process.standardOutput = self.output
        self.process.standardError = self.errors
        self.process.standardInput = FileHandle.nullDevice
        try self.process.run()
    }

    /// Waits for exit without blocking the cooperative pool, then returns status and output.
    func finish(timeout: Duration = .seconds(60)) async throws -> (status: Int32, stdout: String, stderr: String) {
        let process = self.process
        // Drain the pipes concurrently so a chatty child never blocks on a full pipe.
        async let stdout = Self.readAll(self.output)
        async let stderr = Self.readAll(self.errors)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                throw ProcessTimedOut(arguments: process.arguments ?? [])
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return (process.terminationStatus, await stdout, await stderr)
    }

    func signal(_ signal: Int32) {
        kill(self.process.processIdentifier, signal)
    }

    private static func readAll(_ pipe: Pipe) async -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
        }
    }
}

struct ProcessTimedOut: Error, CustomStringConvertible {
    var arguments: [String]
    var description: String { "tributary \(self.arguments.joined(separator: " ")) did not exit in time" }
}
