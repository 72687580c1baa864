import Foundation
import Testing
import TributaryCore
import TributaryGit
import TributaryTestSupport
@testable import TributarySync

@Suite("Rendered-manifests branch target", .timeLimit(.minutes(2)))
struct GitBranchTargetTests {
    let fixture: SyncFixture
    /// The destination repository, served by the same `git daemon` (with push enabled).
    let destination: URL

    init() throws {
        self.fixture = try SyncFixture()
        self.destination = self.fixture.git.served.appendingPathComponent("rendered.git")
        try run(["git", "init", "-q", "--bare", "-b", "main", self.destination.path])
    }

    var destinationURL: String { self.fixture.daemon.url("rendered.git") }

    func configuration() throws -> TributaryConfiguration {
        try self.fixture.configuration(apps: [
            self.fixture.app("shop", destination: "{ git: { repoURL: \"\(self.destinationURL)\", branch: rendered/shop, path: envs/prod } }")
        ])
    }

    func branchLog() throws -> [String] {
        try run(["git", "-C", self.destination.path, "log", "--format=%H %s", "rendered/shop"]).split(separator: "\n").map(String.init)
    }

    @Test func commitsOnChangeWithTrailersAndNotWhenTheRenderingIsUnchanged() async throws {
        let first = try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "1")])
        let engine = try self.fixture.engine(try self.configuration())
        let events = await engine.handle(self.fixture.change(after: first, delivery: "delivery-1"), id: "c1")
        #expect(events.first?.phase == .succeeded)
        #expect(events.first?.destination == "git:\(self.destinationURL)#rendered/shop")
        let message = try run(["git", "-C", self.destination.path, "log", "-1", "--format=%B", "rendered/shop"])
        #expect(message.hasPrefix("Render shop at \(first.prefix(12))"))
        #expect(message.contains("Tributary-Source-Revision: \(first)"))
        #expect(message.contains("Tributary-Delivery: delivery-1"))
        let content = try run(["git", "-C", self.destination.path, "show", "rendered/shop:envs/prod/configmap_shop_shop.yaml"])
        #expect(content.contains("value: \"1\""))

        // A source change that renders the same manifests makes no commit.
        let notes = try self.fixture.git.commit(["apps/shop/NOTES.md": "not a manifest\n"])
        let unchanged = await engine.handle(self.fixture.change(after: notes, before: first), id: "c2")
        #expect(unchanged.first?.phase == .succeeded)
        #expect(unchanged.first?.resources == .init(unchanged: 1))
        #expect(try self.branchLog().count == 1)

        // A real change makes a second commit; the revision survives a restart via the trailer.
        let second = try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "2")])
        let restarted = try self.fixture.engine(try self.configuration(), mirrors: "mirrors-restarted")
        let changed = await restarted.handle(self.fixture.change(after: second, before: notes), id: "c3")
        #expect(changed.first?.phase == .succeeded)
        #expect(changed.first?.previousRevision == first)
        #expect(changed.first?.resources == .init(updated: 1))
        #expect(try self.branchLog().count == 2)
    }

    @Test func aPushThatLosesARaceIsFetchedAndRetried() async throws {
        let first = try self.fixture.git.commit(["apps/shop/config.yaml": SyncFixture.configMap("shop", "1")])
        // Someone else's commit lands on the branch while Tributary's push is being received: the
        // pre-receive hook pushes it from another clone the first time it runs.
        let other = self.fixture.git.root.appendingPathComponent("other")
        try run(["git", "init", "-q", "-b", "rendered/shop", other.path])
        try Data("someone else\n".utf8).write(to: other.appendingPathComponent("README.md"))
        try run(["git", "-C", other.path, "add", "-A"])
        try run(["git", "-C", other.path, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-q", "-m", "someone else"])
        let marker = self.fixture.git.root.appendingPathComponent("raced")
        let hook = self.destination.appendingPathComponent("hooks/pre-receive")
        try Data("""
            #!/bin/sh
            cat >/dev/null
            if [ ! -e '\(marker.path)' ]; then
              touch '\(marker.path)'
              env -i PATH="$PATH" HOME="$HOME" git -C '\(other.path)' push -q '\(self.destination.path)' HEAD:refs/heads/rendered/shop
            fi
            exit 0

            """.utf8).write(to: hook)
        try run(["chmod", "+x", hook.path])

        let engine = try self.fixture.engine(try self.configuration())
        let events = await engine.handle(self.fixture.change(after: first), id: "c1")
        #expect(events.first?.phase == .succeeded, "\(events.first?.message ?? "")")
        #expect(FileManager.default.fileExists(atPath: marker.path))
        let log = try self.branchLog()
        #expect(log.count == 2)
        #expect(log.first?.contains("Render shop") == true)
        #expect(log.last?.contains("someone else") == true)
        // The other commit's file is not Tributary's and survives.
        #expect(try run(["git", "-C", self.destination.path, "show", "rendered/shop:README.md"]) == "someone else")
    }

    @Test func appsSharingABranchOnlyTrustTheirOwnCommitsForTheRevisionTheyHold() async throws {
        let commit = try self.fixture.git.commit([
            "apps/shop/config.yaml": SyncFixture.configMap("shop", "1"),
            "apps/cart/config.yaml": SyncFixture.configMap("cart", "1"),
        ])
        let configuration = try self.fixture.configuration(apps: [
            self.fixture.app("shop", destination: "{ git: { repoURL: \"\(self.destinationURL)\", branch: rendered/all, path: shop } }"),
            self.fixture.app("cart", destination: "{ git: { repoURL: \"\(self.destinationURL)\", branch: rendered/all, path: cart } }"),
        ])
        let engine = try self.fixture.engine(configuration)
        _ = await engine.sync(configuration.app(named: "shop")!, trigger: .change(self.fixture.change(after: commit), id: "c1"))
        _ = await engine.sync(configuration.app(named: "cart")!, trigger: .change(self.fixture.change(after: commit), id: "c1"))
        let head = try run(["git", "-C", self.destination.path, "log", "-1", "--format=%B", "rendered/all"])
        #expect(head.contains("Tributary-App: cart"))
        let shop = try #require(engine.targets["shop"] as? GitBranchTarget)
        let cart = try #require(engine.targets["cart"] as? GitBranchTarget)
        // The head is cart's commit: it says nothing about what shop holds.
        #expect(try await shop.inventory()?.revision == nil)
        #expect(try await cart.inventory()?.revision == commit)
        #expect(try await shop.inventory()?.files.isEmpty == false)
    }

    @Test func destinationsNeverShowCredentials() throws {
        let target = GitBranchTarget(
            remote: .init(url: "https://bot:s3cret-token@git.example.com/acme/rendered.git"), branch: "main", directory: ".", app: "shop",
            mirrors: .init(directory: self.fixture.git.root, logger: self.fixture.logger)
        )
        #expect(!target.destination.contains("s3cret-token"))
    }
}
