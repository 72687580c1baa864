import Foundation
import TributaryTestSupport
import Logging
import Testing
@testable import TributaryGit

@Suite("Git mirror cache against real servers", .timeLimit(.minutes(2)))
struct GitMirrorCacheTests {
    let fixture: GitFixture
    let cache: GitMirrorCache

    init() throws {
        self.fixture = try GitFixture()
        self.cache = GitMirrorCache(directory: self.fixture.root.appendingPathComponent("mirrors"), logger: Logger(label: "test"))
    }

    @Test func mirrorsOverGitDaemonThenFetchesIncrementally() async throws {
        let first = try self.fixture.commit(["apps/shop/deploy.yaml": "kind: Deployment\n"])
        let daemon = try GitDaemon(serving: self.fixture.served)
        let remote = GitRemote(url: daemon.url("infra.git"))

        #expect(try await self.cache.fetchHead(of: "main", in: remote, mustContain: first) == first)
        let second = try self.fixture.commit(["apps/shop/service.yaml": "kind: Service\n"])
        try self.fixture.git("tag", "v1.0")
        try self.fixture.git("push", "-q", "origin", "v1.0")
        #expect(try await self.cache.fetchHead(of: "refs/heads/main", in: remote, mustContain: second) == second)
        #expect(try await self.cache.resolve("v1.0", in: remote) == second)
        #expect(try await self.cache.isAncestor(first, of: second, in: remote))
        #expect(self.cache.networkFetchCount(for: remote) == 2)
        let files = try await self.cache.files(at: second, under: "apps/shop", in: remote)
        #expect(files.map(\.path) == ["apps/shop/deploy.yaml", "apps/shop/service.yaml"])
        #expect(files[0].contents == Array("kind: Deployment\n".utf8))
    }

    @Test func smartHTTPWithBasicAuthAndCredentialsNeverInErrors() async throws {
        let commit = try self.fixture.commit(["README.md": "hello\n"])
        let server = try GitHTTPServer(serving: self.fixture.served, username: "bot", password: "s3cret-token")
        let good = GitRemote(url: server.url("infra.git"), credentials: .userPassword(username: "bot", password: "s3cret-token"))
        #expect(try await self.cache.fetchHead(of: "main", in: good, mustContain: commit) == commit)

        let wrongCache = GitMirrorCache(directory: self.fixture.root.appendingPathComponent("other"), logger: Logger(label: "test"))
        let wrong = GitRemote(url: server.url("infra.git"), credentials: .userPassword(username: "bot", password: "wrong-pass-123"))
        let error = await #expect(throws: GitError.self) { try await wrongCache.fetch(wrong) }
        #expect(error?.code == .authentication)
        #expect(error?.description.contains("wrong-pass-123") == false)
        #expect(error?.description.contains("s3cret-token") == false)

        let anonymous = GitRemote(url: server.url("infra.git"))
        let missing = await #expect(throws: GitError.self) { try await wrongCache.fetch(anonymous) }
        #expect(missing?.code == .authentication)

        let embedded = GitRemote(url: "http://bot:wrong-pass-123@127.0.0.1:\(server.port)/missing.git")
        let redacted = await #expect(throws: GitError.self) { try await wrongCache.fetch(embedded) }
        #expect(redacted?.description.contains("wrong-pass-123") == false)
    }

    @Test func unknownAnnouncedCommitIsAClearError() async throws {
        try self.fixture.commit(["README.md": "hello\n"])
        let remote = GitRemote(url: "file://\(self.fixture.bare.path)")
        let missing = "0123456789abcdef0123456789abcdef01234567"
        let error = await #expect(throws: GitError.self) { try await self.cache.fetchHead(of: "main", in: remote, mustContain: missing) }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains(missing) == true)
        let ref = await #expect(throws: GitError.self) { try await self.cache.fetchHead(of: "no-such-branch", in: remote) }
        #expect(ref?.code == .notFound)
    }

    @Test func concurrentFetchesOfOneRepositoryMakeOneNetworkFetch() async throws {
        try self.fixture.commit(["README.md": "one\n"])
        let server = try GitHTTPServer(serving: self.fixture.served, username: "bot", password: "pw")
        let remote = GitRemote(url: server.url("infra.git"), credentials: .userPassword(username: "bot", password: "pw"))
        try await self.cache.fetch(remote)
        let before = server.uploadPackPosts
        let pushed = try self.fixture.commit(["README.md": "two\n"])

        let heads = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<10 {
                group.addTask { try await self.cache.fetchHead(of: "main", in: remote, mustContain: pushed) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(heads == Array(repeating: pushed, count: 10))
        #expect(server.uploadPackPosts - before == 1)
    }

    @Test func changedPathsIncludeRenamesAndDeletions() async throws {
        let base = try self.fixture.commit([
            "apps/shop/deploy.yaml": "kind: Deployment\nmetadata: {name: shop}\nspec: {replicas: 1}\n",
            "apps/shop/old-name.yaml": String(repeating: "kind: ConfigMap\n# padding line\n", count: 20),
            "apps/web/deploy.yaml": "kind: Deployment\n",
        ])
        try self.fixture.git("mv", "apps/shop/old-name.yaml", "apps/shop/new-name.yaml")
        let head = try self.fixture.commit([
            "apps/shop/deploy.yaml": "kind: Deployment\nmetadata: {name: shop}\nspec: {replicas: 3}\n",
            "apps/web/deploy.yaml": nil,
            "apps/api/deploy.yaml": "kind: StatefulSet\nmetadata: {name: api}\n",
        ])
        let remote = GitRemote(url: "file://\(self.fixture.bare.path)")
        try await self.cache.fetch(remote)
        let changes = Set(try await self.cache.changes(from: base, to: head, in: remote))
        #expect(changes == [
            GitChange(kind: .modified, oldPath: "apps/shop/deploy.yaml", path: "apps/shop/deploy.yaml"),
            GitChange(kind: .renamed, oldPath: "apps/shop/old-name.yaml", path: "apps/shop/new-name.yaml"),
            GitChange(kind: .deleted, oldPath: "apps/web/deploy.yaml", path: "apps/web/deploy.yaml"),
            GitChange(kind: .added, oldPath: "apps/api/deploy.yaml", path: "apps/api/deploy.yaml"),
        ])
    }

    @Test func readsTreesWithoutACheckoutRecursivelyOrNot() async throws {
        try self.fixture.commit(["apps/shop/a.yaml": "a\n", "apps/shop/base/b.yaml": "b\n", "apps/other.yaml": "x\n"])
        try FileManager.default.createSymbolicLink(atPath: self.fixture.work.appendingPathComponent("apps/shop/link.yaml").path, withDestinationPath: "../other.yaml")
        let head = try self.fixture.commit([:])
        let remote = GitRemote(url: "file://\(self.fixture.bare.path)")
        try await self.cache.fetch(remote)
        let flat = try await self.cache.files(at: head, under: "apps/shop", recursive: false, in: remote)
        #expect(flat.map(\.path) == ["apps/shop/a.yaml", "apps/shop/link.yaml"])
        #expect(flat[1].kind == .symlink)
        #expect(flat[1].contents == Array("../other.yaml".utf8))
        let deep = try await self.cache.files(at: head, under: "apps/shop/", recursive: true, in: remote)
        #expect(deep.map(\.path) == ["apps/shop/a.yaml", "apps/shop/base/b.yaml", "apps/shop/link.yaml"])
        let error = await #expect(throws: GitError.self) { try await self.cache.files(at: head, under: "apps/none", in: remote) }
        #expect(error?.code == .notFound)
    }

    @Test func debiansLibgit2SupportsHTTPSAndSSH() {
        #expect(GitLibrary.features.https)
        #expect(GitLibrary.features.ssh)
    }
}

@Suite("Git mirror cache eviction")
struct GitMirrorEvictionTests {
    func use(_ name: String, _ lastUse: UInt64, _ bytes: Int64 = 10, inUse: Bool = false) -> MirrorUse {
        MirrorUse(name: name, lastUse: lastUse, bytes: bytes, inUse: inUse)
    }

    @Test func theLeastRecentlyUsedGoFirstUntilTheCountAndSizeFit() {
        let mirrors = [self.use("c", 3), self.use("a", 1), self.use("b", 2), self.use("d", 4)]
        #expect(GitMirrorCache.evictions(mirrors, limits: .init(maxRepositories: 2)) == ["a", "b"])
        #expect(GitMirrorCache.evictions(mirrors, limits: .init(maxRepositories: 4)) == [])
        #expect(GitMirrorCache.evictions(mirrors, limits: .init(maxBytes: 25)) == ["a", "b"])
        #expect(GitMirrorCache.evictions(mirrors, limits: .init(maxRepositories: 3, maxBytes: 15)) == ["a", "b", "c"])
        #expect(GitMirrorCache.evictions(mirrors, limits: .init()) == [])
    }

    @Test func theMirrorUsedLastStaysEvenBeyondTheLimits() {
        let mirrors = [self.use("a", 1, 100), self.use("b", 2, 100)]
        #expect(GitMirrorCache.evictions(mirrors, limits: .init(maxBytes: 10)) == ["a"])
        #expect(GitMirrorCache.evictions([self.use("a", 1, 100)], limits: .init(maxRepositories: 1, maxBytes: 10)) == [])
    }

    @Test func aMirrorInUseStaysAndStillCounts() {
        let mirrors = [self.use("a", 1, inUse: true), self.use("b", 2), self.use("c", 3), self.use("d", 4)]
        #expect(GitMirrorCache.evictions(mirrors, limits: .init(maxRepositories: 1)) == ["b", "c"])
        #expect(GitMirrorCache.evictions([self.use("a", 1, inUse: true), self.use("b", 2)], limits: .init(maxRepositories: 0)) == [])
    }

    @Test func beyondTheLimitTheOldestMirrorIsDeletedAndClonedAgainWhenUsed() async throws {
        let fixture = try GitFixture()
        let head = try fixture.commit(["README.md": "hello\n"])
        var remotes: [GitRemote] = []
        for name in ["one", "two", "three"] {
            let copy = fixture.served.appendingPathComponent("\(name).git")
            _ = try run(["cp", "-r", fixture.bare.path, copy.path])
            remotes.append(GitRemote(url: "file://\(copy.path)"))
        }
        let directory = fixture.root.appendingPathComponent("mirrors")
        let cache = GitMirrorCache(directory: directory, limits: .init(maxRepositories: 2), logger: Logger(label: "test"))
        for remote in remotes { #expect(try await cache.fetchHead(of: "main", in: remote) == head) }
        let names = remotes.map { GitMirrorCache.mirrorName(for: $0) }
        func onDisk() throws -> Set<String> { Set(try FileManager.default.contentsOfDirectory(atPath: directory.path)) }
        // Eviction runs on the mirror's queue, after the call that went over the limit returned.
        try await waitUntil("the first mirror deleted", timeout: .seconds(30)) { (try? onDisk()) == Set(names[1...]) }
        #expect(cache.mirrorNames == names[1...].sorted())

        // Used again: fetched anew (the fetch before the eviction does not count), and now `two` is the oldest.
        let fetches = cache.networkFetchCount(for: remotes[0])
        #expect(try await cache.fetchHead(of: "main", in: remotes[0], mustContain: head) == head)
        #expect(cache.networkFetchCount(for: remotes[0]) == fetches + 1)
        #expect(try await cache.files(at: head, under: "", in: remotes[0]).map(\.path) == ["README.md"])
        try await waitUntil("the second mirror deleted", timeout: .seconds(30)) { (try? onDisk()) == [names[0], names[2]] }

        // A new cache over the same directory counts what is there (the newest first to stay), and
        // sweeps what an interrupted eviction left.
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("\(names[0]).evicted-1"), withIntermediateDirectories: true)
        let small = GitMirrorCache(directory: directory, limits: .init(maxBytes: 1), logger: Logger(label: "test"))
        try await waitUntil("all but the newest mirror deleted", timeout: .seconds(30)) { (try? onDisk())?.count == 1 }
        #expect(small.mirrorNames.count == 1)
    }
}
