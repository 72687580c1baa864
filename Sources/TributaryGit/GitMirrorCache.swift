import Dispatch
import Foundation
import Logging
import Synchronization

/// Bare mirrors of remote repositories under one directory, fetched incrementally.
///
/// Every libgit2 call for a repository runs on that repository's serial queue, off the cooperative
/// pool. Fetches coalesce: a request is served by any fetch that *started* after the request was
/// made, so a burst of pushes to one repository causes one or two network fetches, not one each.
public final class GitMirrorCache: Sendable {
    private let directory: URL
    private let logger: Logger
    private let mirrors = Mutex<[String: MirrorEntry]>([:])

    /// - Parameters:
    ///   - directory: where the mirrors live; created when missing.
    public init(directory: URL, logger: Logger) {
        self.directory = directory
        self.logger = logger
        GitLibrary.initialize()
    }

    /// Brings the mirror up to date with the remote: all branches and tags.
    ///
    /// - Throws: `GitError` (`authentication`, `network`, ...) without credentials in the message.
    public func fetch(_ remote: GitRemote) async throws {
        let entry = self.entry(for: remote)
        let requestedAfter = entry.state.withLock { $0.fetchesStarted }
        try await entry.run { mirror in try self.fetch(remote, mirror: mirror, entry: entry, requestedAfter: requestedAfter) }
    }

    /// Returns the commit `ref` points to after fetching, making sure the mirror holds `commit`.
    ///
    /// When the mirror already holds `commit` — typically because a fetch for an earlier request in
    /// a burst brought it — no network fetch is made: later pushes announce themselves.
    ///
    /// - Parameters:
    ///   - mustContain: a commit (the `after` of a push) that must exist after the fetch.
    /// - Throws: `GitError.notFound` when the ref or the announced commit cannot be found.
    public func fetchHead(of ref: String, in remote: GitRemote, mustContain commit: String? = nil) async throws -> String {
        let entry = self.entry(for: remote)
        let requestedAfter = entry.state.withLock { $0.fetchesStarted }
        return try await entry.run { mirror in
            if let commit, mirror.contains(commit: commit) { return try mirror.resolve(ref) }
            try self.fetch(remote, mirror: mirror, entry: entry, requestedAfter: requestedAfter)
            if let commit, !mirror.contains(commit: commit) {
                throw GitError(code: .notFound, message: "commit \(commit) announced for \(ref) is not in \(GitError.redactingCredentials(remote.url)) after fetching")
            }
            return try mirror.resolve(ref)
        }
    }

    /// Runs on the mirror's queue. Serial, so a fetch that started after the request has also finished.
    private func fetch(_ remote: GitRemote, mirror: GitMirror, entry: MirrorEntry, requestedAfter: Int) throws {
        let earlier = entry.state.withLock { state -> Result<Void, GitError>? in
            if state.fetchesStarted > requestedAfter { return state.lastResult }
            state.fetchesStarted += 1
            return nil
        }
        if let earlier { return try earlier.get() }
        let started = ContinuousClock.now
        let result: Result<Void, GitError>
        do {
            try mirror.fetch(remote)
            result = .success(())
        } catch let error as GitError {
            result = .failure(error)
        } catch {
            result = .failure(GitError(code: .repository, message: "\(error)"))
        }
        entry.state.withLock { $0.lastResult = result }
        self.logger.debug(
            "Fetched repository",
            metadata: ["git.remote": "\(GitError.redactingCredentials(remote.url))", "duration": "\(ContinuousClock.now - started)"]
        )
        try result.get()
    }

    /// The commit a ref or SHA names in the mirror (no fetch).
    public func resolve(_ revision: String, in remote: GitRemote) async throws -> String {
        try await self.entry(for: remote).run { try $0.resolve(revision) }
    }

    /// Whether the mirror holds the commit (no fetch).
    public func contains(commit: String, in remote: GitRemote) async throws -> Bool {
        try await self.entry(for: remote).run { $0.contains(commit: commit) }
    }

    /// Whether `ancestor` is reachable from `descendant`.
    public func isAncestor(_ ancestor: String, of descendant: String, in remote: GitRemote) async throws -> Bool {
        try await self.entry(for: remote).run { try $0.isAncestor(ancestor, of: descendant) }
    }

    /// The files under `path` at `commit`, read from the object database without a checkout.
    public func files(at commit: String, under path: String, recursive: Bool = true, in remote: GitRemote) async throws -> [GitFile] {
        try await self.entry(for: remote).run { try $0.files(at: commit, under: path, recursive: recursive) }
    }

    /// The paths changed between two commits (a tree diff with rename detection).
    public func changes(from old: String, to new: String, in remote: GitRemote) async throws -> [GitChange] {
        try await self.entry(for: remote).run { try $0.changes(from: old, to: new) }
    }

    /// Commits files to a branch of `remote` and pushes them, without a checkout.
    ///
    /// Fetches first; `build` sees the branch's files under `directory` and returns the update (or
    /// nil for none). When the push is rejected because someone else pushed first, the branch is
    /// fetched again and `build` is asked again, up to `attempts` times. Runs on the mirror's queue,
    /// so publications to one repository never interleave within this process.
    ///
    /// - Throws: `GitError`; `.conflict` when every attempt lost the race.
    public func publish(
        to remote: GitRemote,
        branch: String,
        directory: String,
        attempts: Int = 5,
        signature: (name: String, email: String) = ("Tributary", "tributary@localhost"),
        build: @escaping @Sendable (GitBranchSnapshot) throws -> GitBranchUpdate?
    ) async throws -> GitPublishResult {
        let entry = self.entry(for: remote)
        return try await entry.run { mirror in
            for attempt in 1...max(attempts, 1) {
                // Every attempt fetches unconditionally: a coalesced fetch could predate the push that beat us.
                let requestedAfter = entry.state.withLock { $0.fetchesStarted }
                try self.fetch(remote, mirror: mirror, entry: entry, requestedAfter: requestedAfter)
                let snapshot = try mirror.snapshot(branch: branch, directory: directory)
                guard let update = try build(snapshot),
                      let commit = try mirror.commit(update, on: snapshot, directory: directory, signature: signature)
                else {
                    return GitPublishResult(head: snapshot.head ?? "", committed: false, pushAttempts: attempt - 1)
                }
                if try mirror.push(commit: commit, to: branch, remote: remote) {
                    return GitPublishResult(head: commit, committed: true, pushAttempts: attempt)
                }
                self.logger.info("Push rejected, fetching and retrying", metadata: ["git.branch": "\(branch)", "attempt": "\(attempt)"])
            }
            throw GitError(code: .conflict, message: "\(branch) kept moving: \(attempts) pushes were rejected")
        }
    }

    /// The branch's files under `directory` after fetching.
    public func snapshot(of branch: String, directory: String, in remote: GitRemote) async throws -> GitBranchSnapshot {
        try await self.fetch(remote)
        return try await self.entry(for: remote).run { try $0.snapshot(branch: branch, directory: directory) }
    }

    /// The full message of a commit in the mirror (no fetch).
    public func message(of commit: String, in remote: GitRemote) async throws -> String {
        try await self.entry(for: remote).run { try $0.message(of: commit) }
    }

    /// How many network fetches ran for this remote (coalesced requests do not count).
    public func networkFetchCount(for remote: GitRemote) -> Int {
        self.entry(for: remote).state.withLock { $0.fetchesStarted }
    }

    /// The directory name of a remote's mirror: its key (else its URL without credentials, query
    /// or fragment), made safe for a file name.
    static func mirrorName(for remote: GitRemote) -> String {
        // Without a key: the URL without credentials, query or fragment (a token may ride in either).
        let key = remote.key ?? String(GitRemote.redactingCredentials(remote.url).prefix { $0 != "?" && $0 != "#" })
        let safe = key.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" }
        return String(safe) + ".git"
    }

    private func entry(for remote: GitRemote) -> MirrorEntry {
        let name = Self.mirrorName(for: remote)
        return self.mirrors.withLock { mirrors in
            if let entry = mirrors[name] { return entry }
            let entry = MirrorEntry(path: self.directory.appendingPathComponent(name).path)
            mirrors[name] = entry
            return entry
        }
    }
}

/// One mirror's queue, lazily opened handle and fetch bookkeeping.
private final class MirrorEntry: Sendable {
    struct State {
        var fetchesStarted = 0
        var lastResult: Result<Void, GitError>?
    }

    let path: String
    let state = Mutex(State())
    let queue: DispatchQueue
    /// Touched only on `queue`.
    private nonisolated(unsafe) var mirror: GitMirror?

    init(path: String) {
        self.path = path
        self.queue = DispatchQueue(label: "tributary.git.mirror")
    }

    /// Runs `body` with the open mirror on the mirror's queue.
    func run<Result: Sendable>(_ body: @escaping @Sendable (GitMirror) throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            self.queue.async {
                continuation.resume(with: Swift.Result {
                    if self.mirror == nil { self.mirror = try GitMirror(path: self.path) }
                    return try body(self.mirror!)
                })
            }
        }
    }
}
