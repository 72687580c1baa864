import Dispatch
import Foundation
import Logging
import Synchronization

/// Bare mirrors of remote repositories under one directory, fetched incrementally.
///
/// Every libgit2 call for a repository runs on that repository's serial queue, off the cooperative
/// pool. Fetches coalesce: a request is served by any fetch that *started* after the request was
/// made, so a burst of pushes to one repository causes one or two network fetches, not one each.
///
/// With `limits`, the mirrors least recently used are deleted once there are more than
/// `maxRepositories` of them or they take more than `maxBytes` on disk (measured after each
/// fetch); a mirror in use is never deleted, and one used again is cloned again.
public final class GitMirrorCache: Sendable {
    public struct Limits: Sendable, Equatable {
        public var maxRepositories: Int?
        public var maxBytes: Int64?

        public init(maxRepositories: Int? = nil, maxBytes: Int64? = nil) {
            self.maxRepositories = maxRepositories
            self.maxBytes = maxBytes
        }
    }

    private let directory: URL
    private let logger: Logger
    private let limits: Limits
    private let mirrors = Mutex<(entries: [String: MirrorEntry], tick: UInt64)>(([:], 0))

    /// - Parameters:
    ///   - directory: where the mirrors live; created when missing. Mirrors already there (from an
    ///     earlier run) count against `limits`, oldest first.
    public init(directory: URL, limits: Limits = Limits(), logger: Logger) {
        self.directory = directory
        self.logger = logger
        self.limits = limits
        GitLibrary.initialize()
        guard limits != Limits() else { return }
        let contents = (try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: [.contentModificationDateKey])) ?? []
        for doomed in contents where doomed.lastPathComponent.contains(".git.evicted-") {
            try? FileManager.default.removeItem(at: doomed)  // an eviction a crash interrupted
        }
        let existing = contents
            .filter { $0.pathExtension == "git" }
            .map { ($0, (try? $0.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast) }
            .sorted { $0.1 < $1.1 }
        self.mirrors.withLock { mirrors in
            for (url, _) in existing {
                mirrors.tick += 1
                let entry = MirrorEntry(path: url.path, measuresSize: limits.maxBytes != nil)
                entry.state.withLock { state in
                    state.lastUse = mirrors.tick
                    state.bytes = limits.maxBytes != nil ? MirrorEntry.size(of: url.path) : 0
                    state.present = true
                }
                mirrors.entries[url.lastPathComponent] = entry
            }
        }
        self.evictIfNeeded()
    }

    /// Brings the mirror up to date with the remote: all branches and tags.
    ///
    /// - Throws: `GitError` (`authentication`, `network`, ...) without credentials in the message.
    public func fetch(_ remote: GitRemote) async throws {
        try await self.withEntry(for: remote) { entry in
            let requestedAfter = entry.state.withLock { $0.fetchesStarted }
            try await entry.run { mirror in try self.fetch(remote, mirror: mirror, entry: entry, requestedAfter: requestedAfter) }
        }
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
        try await self.withEntry(for: remote) { entry in
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
    }

    /// Runs on the mirror's queue. Serial, so a fetch that started after the request has also finished.
    private func fetch(_ remote: GitRemote, mirror: GitMirror, entry: MirrorEntry, requestedAfter: Int) throws {
        let earlier = entry.state.withLock { state -> Result<Void, GitError>? in
            // A fetch from before the mirror was evicted brought nothing that is still there.
            if state.fetchesStarted > max(requestedAfter, state.evictedAfter) { return state.lastResult }
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
        entry.measure()
        self.logger.debug(
            "Fetched repository",
            metadata: ["git.remote": "\(GitError.redactingCredentials(remote.url))", "duration": "\(ContinuousClock.now - started)"]
        )
        try result.get()
    }

    /// The commit a ref or SHA names in the mirror (no fetch).
    public func resolve(_ revision: String, in remote: GitRemote) async throws -> String {
        try await self.withEntry(for: remote) { try await $0.run { try $0.resolve(revision) } }
    }

    /// Whether the mirror holds the commit (no fetch).
    public func contains(commit: String, in remote: GitRemote) async throws -> Bool {
        try await self.withEntry(for: remote) { try await $0.run { $0.contains(commit: commit) } }
    }

    /// Whether `ancestor` is reachable from `descendant`.
    public func isAncestor(_ ancestor: String, of descendant: String, in remote: GitRemote) async throws -> Bool {
        try await self.withEntry(for: remote) { try await $0.run { try $0.isAncestor(ancestor, of: descendant) } }
    }

    /// The files under `path` at `commit`, read from the object database without a checkout.
    public func files(at commit: String, under path: String, recursive: Bool = true, in remote: GitRemote) async throws -> [GitFile] {
        try await self.withEntry(for: remote) { try await $0.run { try $0.files(at: commit, under: path, recursive: recursive) } }
    }

    /// The paths changed between two commits (a tree diff with rename detection).
    public func changes(from old: String, to new: String, in remote: GitRemote) async throws -> [GitChange] {
        try await self.withEntry(for: remote) { try await $0.run { try $0.changes(from: old, to: new) } }
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
        try await self.withEntry(for: remote) { entry in try await entry.run { mirror in
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
                    entry.measure()
                    return GitPublishResult(head: commit, committed: true, pushAttempts: attempt)
                }
                self.logger.info("Push rejected, fetching and retrying", metadata: ["git.branch": "\(branch)", "attempt": "\(attempt)"])
            }
            throw GitError(code: .conflict, message: "\(branch) kept moving: \(attempts) pushes were rejected")
        } }
    }

    /// The branch's files under `directory` after fetching.
    public func snapshot(of branch: String, directory: String, in remote: GitRemote) async throws -> GitBranchSnapshot {
        try await self.fetch(remote)
        return try await self.withEntry(for: remote) { try await $0.run { try $0.snapshot(branch: branch, directory: directory) } }
    }

    /// The full message of a commit in the mirror (no fetch).
    public func message(of commit: String, in remote: GitRemote) async throws -> String {
        try await self.withEntry(for: remote) { try await $0.run { try $0.message(of: commit) } }
    }

    /// How many network fetches ran for this remote (coalesced requests do not count).
    public func networkFetchCount(for remote: GitRemote) -> Int {
        self.mirrors.withLock { $0.entries[Self.mirrorName(for: remote)] }?.state.withLock { $0.fetchesStarted } ?? 0
    }

    /// The mirrors on disk (not evicted), by directory name.
    public var mirrorNames: [String] {
        self.mirrors.withLock { $0.entries.filter { $0.value.state.withLock(\.present) }.keys.sorted() }
    }

    /// The directory name of a remote's mirror: its key (else its URL without credentials, query
    /// or fragment), made safe for a file name.
    static func mirrorName(for remote: GitRemote) -> String {
        // Without a key: the URL without credentials, query or fragment (a token may ride in either).
        let key = remote.key ?? String(GitRemote.redactingCredentials(remote.url).prefix { $0 != "?" && $0 != "#" })
        let safe = key.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" }
        return String(safe) + ".git"
    }

    /// Runs `body` with the remote's entry marked in use (so it is not evicted meanwhile), then
    /// evicts what the limits no longer allow.
    private func withEntry<Result: Sendable>(for remote: GitRemote, _ body: (MirrorEntry) async throws -> Result) async throws -> Result {
        let name = Self.mirrorName(for: remote)
        let entry = self.mirrors.withLock { mirrors in
            mirrors.tick += 1
            let entry = mirrors.entries[name] ?? MirrorEntry(path: self.directory.appendingPathComponent(name).path, measuresSize: self.limits.maxBytes != nil)
            mirrors.entries[name] = entry
            entry.state.withLock { state in
                state.inUse += 1
                state.lastUse = mirrors.tick
            }
            return entry
        }
        defer {
            entry.state.withLock { $0.inUse -= 1 }
            self.evictIfNeeded()
        }
        return try await body(entry)
    }

    private func evictIfNeeded() {
        guard self.limits != Limits() else { return }
        let victims = self.mirrors.withLock { mirrors -> [(String, MirrorEntry)] in
            let candidates = mirrors.entries.compactMap { name, entry in
                entry.state.withLock { state in
                    state.present ? MirrorUse(name: name, lastUse: state.lastUse, bytes: state.bytes, inUse: state.inUse > 0) : nil
                }
            }
            return Self.evictions(candidates, limits: self.limits).map { name in
                let entry = mirrors.entries[name]!
                entry.state.withLock { $0.present = false }  // not chosen twice
                return (name, entry)
            }
        }
        for (name, entry) in victims {
            entry.evict { deleted, bytes in
                if deleted { self.logger.info("Mirror evicted (least recently used)", metadata: ["git.mirror": "\(name)", "bytes": "\(bytes)"]) }
            }
        }
    }

    /// The mirrors to delete, least recently used first, until the rest are within `limits`;
    /// mirrors in use stay (and still count), and so does the one used last: a caller's next
    /// step often reads the mirror it just fetched, and a limit below one repository's size must
    /// not empty the cache after every operation.
    static func evictions(_ mirrors: [MirrorUse], limits: Limits) -> [String] {
        var count = mirrors.count
        var bytes = mirrors.reduce(Int64(0)) { $0 + $1.bytes }
        var evicted: [String] = []
        let newest = mirrors.map(\.lastUse).max()
        for mirror in mirrors.sorted(by: { $0.lastUse < $1.lastUse }) where !mirror.inUse && mirror.lastUse != newest {
            let overCount = limits.maxRepositories.map { count > $0 } ?? false
            let overSize = limits.maxBytes.map { bytes > $0 } ?? false
            guard overCount || overSize else { break }
            evicted.append(mirror.name)
            count -= 1
            bytes -= mirror.bytes
        }
        return evicted
    }
}

/// What eviction knows of a mirror.
struct MirrorUse: Equatable {
    var name: String
    /// Larger is more recent.
    var lastUse: UInt64
    var bytes: Int64
    var inUse: Bool
}

/// One mirror's queue, lazily opened handle and fetch bookkeeping.
private final class MirrorEntry: Sendable {
    struct State {
        var fetchesStarted = 0
        var lastResult: Result<Void, GitError>?
        /// `fetchesStarted` when the mirror was last evicted: earlier fetches do not count.
        var evictedAfter = 0
        /// Callers between `withEntry` and their end.
        var inUse = 0
        var lastUse: UInt64 = 0
        /// Size on disk at the last measurement.
        var bytes: Int64 = 0
        /// Whether the mirror is on disk (opened or found, and not evicted since).
        var present = false
    }

    let path: String
    /// Whether `measure()` walks the mirror for its size: only a size limit needs it.
    let measuresSize: Bool
    let state = Mutex(State())
    let queue: DispatchQueue
    /// Touched only on `queue`.
    private nonisolated(unsafe) var mirror: GitMirror?

    init(path: String, measuresSize: Bool) {
        self.path = path
        self.measuresSize = measuresSize
        self.queue = DispatchQueue(label: "tributary.git.mirror")
    }

    /// Runs `body` with the open mirror on the mirror's queue.
    func run<Result: Sendable>(_ body: @escaping @Sendable (GitMirror) throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            self.queue.async {
                continuation.resume(with: Swift.Result {
                    if self.mirror == nil {
                        self.mirror = try GitMirror(path: self.path)
                        self.measure()
                    }
                    return try body(self.mirror!)
                })
            }
        }
    }

    /// Records that the mirror is on disk, and its size there. On the queue.
    func measure() {
        let bytes = self.measuresSize ? Self.size(of: self.path) : 0
        self.state.withLock { state in
            state.bytes = bytes
            state.present = true
        }
    }

    /// Closes and deletes the mirror, on its queue, unless it was taken into use again meanwhile.
    func evict(then report: @escaping @Sendable (_ deleted: Bool, _ bytes: Int64) -> Void) {
        self.queue.async {
            let (inUse, bytes) = self.state.withLock { state in
                if state.inUse > 0 { state.present = true }  // chosen before its new use: keep it
                return (state.inUse > 0, state.bytes)
            }
            guard !inUse else { return report(false, bytes) }
            self.mirror = nil
            // Renamed first: a crash half-way through deleting must not leave a mirror that opens.
            let doomed = "\(self.path).evicted-\(UInt64.random(in: 0...UInt64.max))"
            if (try? FileManager.default.moveItem(atPath: self.path, toPath: doomed)) != nil {
                try? FileManager.default.removeItem(atPath: doomed)
            }
            self.state.withLock { state in
                state.evictedAfter = state.fetchesStarted
                state.lastResult = nil
                state.bytes = 0
                state.present = false  // a job queued before this one may have measured it again
            }
            report(true, bytes)
        }
    }

    /// Bytes allocated under `path`.
    static func size(of path: String) -> Int64 {
        guard let files = FileManager.default.enumerator(at: URL(fileURLWithPath: path), includingPropertiesForKeys: [.totalFileAllocatedSizeKey, .isRegularFileKey]) else { return 0 }
        var total: Int64 = 0
        for case let file as URL in files {
            guard let values = try? file.resourceValues(forKeys: [.totalFileAllocatedSizeKey, .isRegularFileKey]), values.isRegularFile == true else { continue }
            total += Int64(values.totalFileAllocatedSize ?? 0)
        }
        return total
    }
}
