import Foundation
import Testing
import TributaryCore
@testable import TributaryRender
@testable import TributarySync

@Suite("Directory target")
struct DirectoryTargetTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-dir-\(UUID().uuidString.prefix(8))")
    var path: String { self.root.appendingPathComponent("shop").path }

    init() throws {
        try FileManager.default.createDirectory(at: self.root, withIntermediateDirectories: true)
    }

    func context(_ revision: String, prune: Bool = true) -> ApplyContext {
        ApplyContext(app: "shop", repoURL: "https://git.example.com/acme/infra.git", ref: "main", revision: revision, deliveryID: "d-1", prune: prune)
    }

    func resource(_ name: String, _ text: String) -> RenderedResource {
        RenderedResource(path: name, contents: Array(text.utf8))
    }

    func read(_ name: String) -> String? {
        (try? String(contentsOfFile: "\(self.path)/\(name)", encoding: .utf8))
    }

    @Test func firstApplyCreatesFilesAndInventory() async throws {
        let target = DirectoryTarget(path: self.path)
        let counts = try await target.apply([self.resource("a.yaml", "a: 1\n"), self.resource("b.yaml", "b: 1\n")], context: self.context("1111"))
        #expect(counts == .init(created: 2))
        #expect(self.read("a.yaml") == "a: 1\n")
        #expect(try await target.inventory()?.revision == "1111")
        #expect(try await target.inventory()?.files.keys.sorted() == ["a.yaml", "b.yaml"])
    }

    @Test func secondApplyCountsAndSwapsAtomically() async throws {
        let target = DirectoryTarget(path: self.path)
        _ = try await target.apply([self.resource("a.yaml", "a: 1\n"), self.resource("b.yaml", "b: 1\n")], context: self.context("1111"))
        let firstGeneration = try FileManager.default.destinationOfSymbolicLink(atPath: self.path)
        let counts = try await target.apply([self.resource("a.yaml", "a: 2\n"), self.resource("c.yaml", "c: 1\n")], context: self.context("2222"))
        #expect(counts == .init(created: 1, updated: 1, pruned: 1))
        #expect(self.read("a.yaml") == "a: 2\n")
        #expect(self.read("b.yaml") == nil)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: self.path) != firstGeneration)
        // The old generation is gone once the link moved.
        #expect(!FileManager.default.fileExists(atPath: self.root.appendingPathComponent(firstGeneration).path))
    }

    /// Unchanged files are carried into the new generation as hard links, not rewritten; changed
    /// ones are new files, so the old generation is never written through.
    @Test func unchangedFilesAreLinkedAndChangedOnesWrittenAfresh() async throws {
        let target = DirectoryTarget(path: self.path)
        _ = try await target.apply([self.resource("a.yaml", "a: 1\n"), self.resource("b.yaml", "b: 1\n")], context: self.context("1111"))
        func inode(_ name: String) throws -> UInt64 {
            UInt64(try #require(try FileManager.default.attributesOfItem(atPath: "\(self.path)/\(name)")[.systemFileNumber] as? NSNumber).uint64Value)
        }
        let (a, b) = (try inode("a.yaml"), try inode("b.yaml"))
        _ = try await target.apply([self.resource("a.yaml", "a: 2\n"), self.resource("b.yaml", "b: 1\n")], context: self.context("2222"))
        #expect(try inode("b.yaml") == b)
        #expect(try inode("a.yaml") != a)
        #expect(self.read("a.yaml") == "a: 2\n" && self.read("b.yaml") == "b: 1\n")
    }

    @Test func withoutPruneOwnedFilesAreKeptAsOrphans() async throws {
        let target = DirectoryTarget(path: self.path)
        _ = try await target.apply([self.resource("a.yaml", "a: 1\n"), self.resource("b.yaml", "b: 1\n")], context: self.context("1111", prune: false))
        let counts = try await target.apply([self.resource("a.yaml", "a: 1\n")], context: self.context("2222", prune: false))
        #expect(counts == .init(unchanged: 1, orphaned: 1))
        #expect(self.read("b.yaml") == "b: 1\n")
        // Turning prune on later removes the orphan: it is still owned.
        let pruned = try await target.apply([self.resource("a.yaml", "a: 1\n")], context: self.context("3333", prune: true))
        #expect(pruned == .init(unchanged: 1, pruned: 1))
        #expect(self.read("b.yaml") == nil)
    }

    @Test func filesItDoesNotOwnSurvive() async throws {
        let target = DirectoryTarget(path: self.path)
        _ = try await target.apply([self.resource("a.yaml", "a: 1\n")], context: self.context("1111"))
        try Data("mine\n".utf8).write(to: URL(fileURLWithPath: "\(self.path)/NOTES.txt"))
        _ = try await target.apply([self.resource("a.yaml", "a: 2\n")], context: self.context("2222"))
        #expect(self.read("NOTES.txt") == "mine\n")
        // ...and a rendered file may not replace one.
        await #expect(throws: SyncError.self) {
            _ = try await target.apply([self.resource("NOTES.txt", "x\n")], context: self.context("3333"))
        }
        #expect(self.read("NOTES.txt") == "mine\n")
        #expect(self.read("a.yaml") == "a: 2\n")
    }

    @Test func driftIsEditedOrMissingOwnedFiles() async throws {
        let target = DirectoryTarget(path: self.path)
        _ = try await target.apply([self.resource("a.yaml", "a: 1\n"), self.resource("b.yaml", "b: 1\n")], context: self.context("1111"))
        #expect(try await target.drift().isEmpty)
        try Data("a: hacked\n".utf8).write(to: URL(fileURLWithPath: "\(self.path)/a.yaml"))
        try FileManager.default.removeItem(atPath: "\(self.path)/b.yaml")
        try Data("unrelated\n".utf8).write(to: URL(fileURLWithPath: "\(self.path)/other.yaml"))
        let drift = try await target.drift()
        #expect(drift.modified == ["a.yaml"])
        #expect(drift.missing == ["b.yaml"])
    }

    @Test func refusesADirectoryItDidNotCreate() async throws {
        try FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: "\(self.path)/existing.yaml"))
        await #expect(throws: SyncError.self) {
            _ = try await DirectoryTarget(path: self.path).apply([self.resource("a.yaml", "a: 1\n")], context: self.context("1111"))
        }
        #expect(self.read("existing.yaml") == "x")
    }

    @Test func resourceFileNamesCannotLeaveTheTarget() {
        let manifest = Manifest(apiVersion: "v1", kind: "../../../../tmp/x", namespace: "..", name: "a/b", syncWave: 0, yaml: "", file: "f", line: 1)
        let name = ResourceLayout.fileName(for: manifest)
        #expect(!name.contains("/"))
        #expect(!name.hasPrefix("."))
    }
}
