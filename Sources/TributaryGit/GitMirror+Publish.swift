import CLibgit2
import Foundation

/// A branch's files under one directory, as the mirror holds them after a fetch.
public struct GitBranchSnapshot: Sendable {
    /// The branch head; nil when the branch does not exist yet.
    public var head: String?
    /// Files under the directory, by path relative to it.
    public var files: [String: [UInt8]]
}

/// What to commit on top of a snapshot.
public struct GitBranchUpdate: Sendable {
    /// Files to write, by path relative to the directory.
    public var writing: [String: [UInt8]]
    /// Files to delete, by path relative to the directory.
    public var removing: Set<String>
    public var message: String

    public init(writing: [String: [UInt8]], removing: Set<String>, message: String) {
        self.writing = writing
        self.removing = removing
        self.message = message
    }
}

/// How a publication ended.
public struct GitPublishResult: Sendable {
    /// The branch head after publishing.
    public var head: String
    /// False when the tree was already as requested: nothing was committed or pushed.
    public var committed: Bool
    /// Pushes made, including rejected ones.
    public var pushAttempts: Int
}

extension GitMirror {
    /// Snapshot of `directory` on `branch` (no fetch).
    func snapshot(branch: String, directory: String) throws -> GitBranchSnapshot {
        guard let head = try? self.resolve("refs/heads/\(branch)") else {
            return GitBranchSnapshot(head: nil, files: [:])
        }
        let files: [GitFile]
        do {
            files = try self.files(at: head, under: directory, recursive: true)
        } catch let error as GitError where error.code == .notFound {
            files = []
        }
        let prefix = Self.directoryPrefix(directory)
        return GitBranchSnapshot(
            head: head,
            files: Dictionary(files.map { (String($0.path.dropFirst(prefix.count)), $0.contents) }, uniquingKeysWith: { first, _ in first })
        )
    }

    /// Commits `update` on top of `branch`'s head (or as its first commit) without a checkout.
    ///
    /// - Returns: the new commit, or nil when the resulting tree equals the head's.
    func commit(_ update: GitBranchUpdate, on snapshot: GitBranchSnapshot, directory: String, signature: (name: String, email: String)) throws -> String? {
        var index: OpaquePointer?
        var result = git_index_new(&index)
        guard result == 0, let index else { throw GitError.last(result, context: "cannot create an index") }
        defer { git_index_free(index) }

        var parent: OpaquePointer?
        var parentTree: git_oid?
        defer { if let parent { git_commit_free(parent) } }
        if let head = snapshot.head, var oid = Self.oid(head) {
            result = git_commit_lookup(&parent, self.repository, &oid)
            guard result == 0, let parent else { throw GitError.last(result, context: "cannot read \(head)") }
            var tree: OpaquePointer?
            result = git_commit_tree(&tree, parent)
            guard result == 0, let tree else { throw GitError.last(result, context: "cannot read the tree of \(head)") }
            defer { git_tree_free(tree) }
            parentTree = git_tree_id(tree).pointee
            result = git_index_read_tree(index, tree)
            guard result == 0 else { throw GitError.last(result, context: "cannot read the tree of \(head)") }
        }

        let prefix = Self.directoryPrefix(directory)
        for path in update.removing.sorted() {
            git_index_remove(index, prefix + path, 0)
            git_error_clear()
        }
        for (path, contents) in update.writing.sorted(by: { $0.key < $1.key }) {
            var blob = git_oid()
            result = contents.withUnsafeBytes { git_blob_create_from_buffer(&blob, self.repository, $0.baseAddress, $0.count) }
            guard result == 0 else { throw GitError.last(result, context: "cannot write \(path)") }
            var entry = git_index_entry()
            entry.mode = UInt32(GIT_FILEMODE_BLOB.rawValue)
            entry.id = blob
            entry.file_size = UInt32(truncatingIfNeeded: contents.count)
            result = (prefix + path).withCString { pathPointer in
                entry.path = pathPointer
                return git_index_add(index, &entry)
            }
            guard result == 0 else { throw GitError.last(result, context: "cannot stage \(path)") }
        }

        var tree = git_oid()
        result = git_index_write_tree_to(&tree, index, self.repository)
        guard result == 0 else { throw GitError.last(result, context: "cannot write the tree") }
        if var parentTree, git_oid_equal(&parentTree, &tree) != 0 { return nil }

        var treeObject: OpaquePointer?
        result = git_tree_lookup(&treeObject, self.repository, &tree)
        guard result == 0, let treeObject else { throw GitError.last(result, context: "cannot read the new tree") }
        defer { git_tree_free(treeObject) }
        var author: UnsafeMutablePointer<git_signature>?
        result = git_signature_now(&author, signature.name, signature.email)
        guard result == 0, let author else { throw GitError.last(result, context: "invalid commit signature") }
        defer { git_signature_free(author) }

        var commit = git_oid()
        var parents: [OpaquePointer?] = parent.map { [$0] } ?? []
        result = parents.withUnsafeMutableBufferPointer { buffer in
            git_commit_create(&commit, self.repository, nil, author, author, "UTF-8", update.message, treeObject, buffer.count, buffer.baseAddress)
        }
        guard result == 0 else { throw GitError.last(result, context: "cannot create the commit") }
        return Self.hex(&commit)
    }

    /// Pushes `commit` to `branch` of `remote`, without force.
    ///
    /// - Returns: false when the remote rejected the update (someone else pushed first).
    func push(commit: String, to branch: String, remote: GitRemote) throws -> Bool {
        // A refspec's source must be a ref: stage the commit under a private one first.
        let staging = "refs/tributary/publish/\(branch)"
        guard var oid = Self.oid(commit) else { throw GitError(code: .invalidArgument, message: "not a commit id") }
        var reference: OpaquePointer?
        var result = git_reference_create(&reference, self.repository, staging, &oid, 1, "tributary publish")
        guard result == 0 else { throw GitError.last(result, context: "cannot stage the commit") }
        git_reference_free(reference)

        var handle: OpaquePointer?
        result = git_remote_create_anonymous(&handle, self.repository, remote.url)
        guard result == 0, let handle else { throw GitError.last(result, context: "invalid remote \(remote.url)") }
        defer { git_remote_free(handle) }

        var options = git_push_options()
        git_push_options_init(&options, UInt32(GIT_PUSH_OPTIONS_VERSION))
        let context = CredentialContext(credentials: remote.credentials)
        options.callbacks.credentials = credentialCallback
        options.callbacks.payload = Unmanaged.passUnretained(context).toOpaque()
        options.callbacks.push_update_reference = pushStatusCallback

        result = withStringArray(["\(staging):refs/heads/\(branch)"]) { refspecs in
            withExtendedLifetime(context) { git_remote_push(handle, refspecs, &options) }
        }
        if result == GIT_ENONFASTFORWARD.rawValue || context.rejection != nil {
            git_error_clear()
            return false
        }
        guard result == 0 else {
            var error = GitError.last(result, context: "push to \(remote.url) failed")
            if context.refused { error.code = .authentication }
            // Servers report a lost race in several ways; all of them mean "fetch and try again".
            let detail = error.message.lowercased()
            if detail.contains("fast-forward") || detail.contains("fetch first") || detail.contains("stale") || detail.contains("failed to update") {
                return false
            }
            throw error
        }
        // Keep the mirror's branch in step, so the next snapshot needs no fetch to see this commit.
        result = git_reference_create(&reference, self.repository, "refs/heads/\(branch)", &oid, 1, "tributary publish")
        if result == 0 { git_reference_free(reference) }
        git_error_clear()
        return true
    }

    /// The full message of a commit.
    func message(of sha: String) throws -> String {
        guard var oid = Self.oid(sha) else { throw GitError(code: .invalidArgument, message: "'\(sha)' is not a commit id") }
        var commit: OpaquePointer?
        let result = git_commit_lookup(&commit, self.repository, &oid)
        guard result == 0, let commit else { throw GitError.last(result, context: "commit \(sha) is not in the repository") }
        defer { git_commit_free(commit) }
        return git_commit_message(commit).map { String(cString: $0) } ?? ""
    }

    static func directoryPrefix(_ directory: String) -> String {
        let trimmed = directory.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
        return trimmed.isEmpty ? "" : trimmed + "/"
    }
}

/// Called once per pushed ref; a non-nil status is the remote's reason for rejecting it.
private let pushStatusCallback: @convention(c) (UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Int32 = { _, status, payload in
    guard let status, let payload else { return 0 }
    Unmanaged<CredentialContext>.fromOpaque(payload).takeUnretainedValue().rejection = String(cString: status)
    return 0
}
