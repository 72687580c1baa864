import Foundation
import Logging
import Testing
import TributaryCore
import TributaryGit
@testable import TributaryPlanner
import TributarySource

/// When the planner may plan a push from the paths its signed payload lists, without a fetch.
@Suite("Planning from the payload's paths")
struct ChangePlannerTests {
    static let before = String(repeating: "a", count: 40)
    static let after = String(repeating: "b", count: 40)
    // Nothing listens on port 9: a fetch would fail, so a plan proves none was made.
    static let url = "http://127.0.0.1:9/acme/infra.git"

    static func change(
        added: [String] = [], modified: [String] = [], removed: [String] = [], complete: Bool = true,
        before: String = Self.before, created: Bool = false, forced: Bool = false
    ) throws -> ChangeEvent {
        ChangeEvent(
            provider: "github", deliveryID: UUID().uuidString, repository: ChangeEvent.Repository(key: try #require(RepositoryKey(url: Self.url)).rawValue, cloneURLs: [Self.url]), ref: "refs/heads/main",
            before: before, after: Self.after, created: created, forced: forced,
            changedPathHints: .init(added: added, modified: modified, removed: removed, complete: complete)
        )
    }

    @Test func aCompleteListStandsInForTheDiff() throws {
        let listed = try #require(ChangePlanner.listedChanges(try Self.change(added: ["apps/a/new.yaml"], modified: ["apps/b/x.yaml"], removed: ["apps/c/y.yaml"])))
        #expect(listed.touch(directory: "apps/a") && listed.touch(directory: "apps/b") && listed.touch(directory: "apps/c"))
        #expect(!listed.touch(directory: "apps/d"))
    }

    @Test func anythingLessMeansAFetch() throws {
        #expect(ChangePlanner.listedChanges(try Self.change(modified: ["a.yaml"], complete: false)) == nil)  // truncated by the host
        #expect(ChangePlanner.listedChanges(try Self.change(modified: ["a.yaml"], forced: true)) == nil)
        #expect(ChangePlanner.listedChanges(try Self.change(modified: ["a.yaml"], created: true)) == nil)
        #expect(ChangePlanner.listedChanges(try Self.change(modified: ["a.yaml"], before: String(repeating: "0", count: 40))) == nil)
        #expect(ChangePlanner.listedChanges(try Self.change()) == nil)  // lists nothing: a hand-made payload
        var noHints = try Self.change(modified: ["a.yaml"])
        noHints.changedPathHints = nil
        #expect(ChangePlanner.listedChanges(noHints) == nil)
    }

    func planner(targetRevision: String = "main") throws -> ChangePlanner {
        let configuration = try TributaryConfiguration.parse(yaml: """
            apps:
              - { name: shop, source: { repoURL: "\(Self.url)", targetRevision: \(targetRevision), path: apps/shop }, destination: { directory: /srv/shop } }
              - { name: web, source: { repoURL: "\(Self.url)", targetRevision: \(targetRevision), path: apps/web }, destination: { directory: /srv/web } }
            """, file: "planner.yaml")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("planner-\(UUID().uuidString)")
        return ChangePlanner(configuration: configuration, mirrors: GitMirrorCache(directory: directory, logger: Logger(label: "tributary.tests")))
    }

    @Test func aListedPushIsPlannedWithoutFetchingAtThePushedCommit() async throws {
        let requests = try await self.planner().plan(try Self.change(modified: ["apps/shop/deploy.yaml"]), changeID: "c1") { _ in 6 }
        #expect(requests.map(\.app) == ["shop", "web"])
        #expect(requests.allSatisfy { $0.revision == Self.after && $0.before == Self.before })
        #expect(requests.map(\.touchesPath) == [true, false])
    }

    @Test func appsOnTheDefaultBranchOrAnUnlistedPushNeedTheFetch() async throws {
        // Whether refs/heads/main is the default branch only the repository can say.
        await #expect(throws: GitError.self) {
            _ = try await self.planner(targetRevision: "HEAD").plan(try Self.change(modified: ["apps/shop/deploy.yaml"]), changeID: "c2") { _ in 6 }
        }
        await #expect(throws: GitError.self) {
            _ = try await self.planner().plan(try Self.change(modified: ["apps/shop/deploy.yaml"], forced: true), changeID: "c3") { _ in 6 }
        }
    }
}
