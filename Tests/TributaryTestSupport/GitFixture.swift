import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command to completion through the shell; throws with its output when it fails.
///
/// popen rather than Foundation's Process: waiting on a Process from the cooperative pool can
/// starve the dispatch threads Process itself needs to notice the exit.
@discardableResult
public func run(_ arguments: [String], environment: [String: String] = [:]) throws -> String {
    let identity = ["GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com", "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com"]
    let assignments = identity.merging(environment) { $1 }.map { "\($0.key)=\(shellQuoted($0.value))" }.sorted()
    let command = (["env"] + assignments + arguments.map(shellQuoted)).joined(separator: " ") + " 2>&1"
    guard let pipe = popen(command, "r") else { throw CommandFailed(command: command, output: "popen failed") }
    var output = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&buffer, 1, buffer.count, pipe)
        if count <= 0 { break }
        output += buffer[..<count]
    }
    let status = pclose(pipe)
    let text = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard status == 0 else { throw CommandFailed(command: arguments.joined(separator: " "), output: text) }
    return text
}

public func shellQuoted(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

public struct CommandFailed: Error, CustomStringConvertible {
    public var command: String
    public var output: String
    public init(command: String, output: String) {
        self.command = command
        self.output = output
    }
    public var description: String { "\(self.command) failed: \(self.output)" }
}

/// A working repository and a bare copy served to the code under test.
public final class GitFixture: @unchecked Sendable {
    public let root: URL
    public let work: URL
    /// Directory holding `infra.git`, the served bare repository.
    public let served: URL
    public var bare: URL { self.served.appendingPathComponent("infra.git") }

    public init() throws {
        self.root = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-git-\(UUID().uuidString.prefix(8))")
        self.work = self.root.appendingPathComponent("work")
        self.served = self.root.appendingPathComponent("served")
        try FileManager.default.createDirectory(at: self.work, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: self.served, withIntermediateDirectories: true)
        try run(["git", "init", "-q", "-b", "main", self.work.path])
        try run(["git", "init", "-q", "--bare", "-b", "main", self.bare.path])
        try run(["git", "-C", self.work.path, "remote", "add", "origin", self.bare.path])
    }

    deinit {
        try? FileManager.default.removeItem(at: self.root)
    }

    /// Writes files (path → contents; `nil` deletes), commits, pushes, and returns the commit.
    @discardableResult
    public func commit(_ files: [String: String?], message: String = "change", branch: String = "main") throws -> String {
        for (path, contents) in files {
            let url = self.work.appendingPathComponent(path)
            if let contents {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(contents.utf8).write(to: url)
            } else {
                try run(["git", "-C", self.work.path, "rm", "-q", path])
            }
        }
        try run(["git", "-C", self.work.path, "add", "-A"])
        try run(["git", "-C", self.work.path, "commit", "-q", "-m", message])
        try run(["git", "-C", self.work.path, "push", "-q", "origin", "HEAD:refs/heads/\(branch)"])
        return try run(["git", "-C", self.work.path, "rev-parse", "HEAD"])
    }

    public func git(_ arguments: String...) throws {
        try run(["git", "-C", self.work.path] + arguments)
    }
}

