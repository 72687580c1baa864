import CLibgit2
import Foundation

/// One bare mirror on disk and its open libgit2 handle.
///
/// `@unchecked Sendable` is safe: the handle is only touched from the mirror's serial queue (every
/// method here is called inside `GitMirrorCache`'s `onQueue`), and freed in `deinit`.
final class GitMirror: @unchecked Sendable {
    let path: String
    let repository: OpaquePointer

    /// Opens the bare mirror at `path`, creating it if needed. Blocking.
    init(path: String) throws {
        GitLibrary.initialize()
        self.path = path
        var repository: OpaquePointer?
        var result = git_repository_open_bare(&repository, path)
        if result == GIT_ENOTFOUND.rawValue {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            result = git_repository_init(&repository, path, 1)
        }
        guard result == 0, let repository else { throw GitError.last(result, context: "cannot open mirror \(path)") }
        self.repository = repository
    }

    deinit {
        git_repository_free(self.repository)
    }

    /// Fetches every branch and tag from `remote`, pruning refs the remote no longer has. Blocking.
    func fetch(_ remote: GitRemote) throws {
        var handle: OpaquePointer?
        var result = git_remote_create_anonymous(&handle, self.repository, remote.url)
        guard result == 0, let handle else { throw GitError.last(result, context: "invalid remote \(remote.url)") }
        defer { git_remote_free(handle) }

        var options = git_fetch_options()
        git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION))
        options.prune = GIT_FETCH_PRUNE
        options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE  // the refspecs below fetch every tag
        let context = CredentialContext(credentials: remote.credentials)
        options.callbacks.credentials = credentialCallback
        options.callbacks.payload = Unmanaged.passUnretained(context).toOpaque()

        result = withStringArray(["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]) { refspecs in
            withExtendedLifetime(context) { git_remote_fetch(handle, refspecs, &options, "tributary fetch") }
        }
        guard result == 0 else {
            var error = GitError.last(result, context: "fetch from \(remote.url) failed")
            if context.refused { error.code = .authentication }
            throw error
        }
        // Point the mirror's HEAD at the remote's default branch, so `HEAD` means what it means there.
        var branch = git_buf()
        defer { git_buf_dispose(&branch) }
        if git_remote_default_branch(&branch, handle) == 0, let name = branch.ptr {
            git_repository_set_head(self.repository, name)
        }
        git_error_clear()
    }

    /// The commit a ref or SHA names: `main`, `refs/heads/main`, `v1.0` (tags are peeled), or a SHA.
    func resolve(_ revision: String) throws -> String {
        let candidates = revision.hasPrefix("refs/") ? [revision] : [revision, "refs/heads/\(revision)", "refs/tags/\(revision)"]
        for candidate in candidates {
            var object: OpaquePointer?
            let result = git_revparse_single(&object, self.repository, "\(candidate)^{commit}")
            if result == 0, let object {
                defer { git_object_free(object) }
                return Self.hex(git_object_id(object))
            }
            git_error_clear()
        }
        throw GitError(code: .notFound, message: "no commit named \(revision)")
    }

    /// Whether the commit exists in the mirror.
    func contains(commit sha: String) -> Bool {
        guard var oid = Self.oid(sha) else { return false }
        var commit: OpaquePointer?
        guard git_commit_lookup(&commit, self.repository, &oid) == 0 else {
            git_error_clear()
            return false
        }
        git_commit_free(commit)
        return true
    }

    /// Whether `ancestor` is `descendant` or reachable from it.
    func isAncestor(_ ancestor: String, of descendant: String) throws -> Bool {
        guard var a = Self.oid(ancestor), var d = Self.oid(descendant) else {
            throw GitError(code: .invalidArgument, message: "not a commit id")
        }
        if git_oid_equal(&a, &d) != 0 { return true }
        let result = git_graph_descendant_of(self.repository, &d, &a)
        guard result >= 0 else { throw GitError.last(result, context: "cannot compare commits") }
        return result == 1
    }

    /// Every file under `directory` at `commit` (`""` for the root); `recursive: false` lists only
    /// the directory's own files.
    func files(at commit: String, under directory: String, recursive: Bool) throws -> [GitFile] {
        try self.withTree(commit) { root in
            var tree = root
            var owned: OpaquePointer?
            defer { if let owned { git_tree_free(owned) } }
            let trimmed = directory.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            if !trimmed.isEmpty && trimmed != "." {
                var entry: OpaquePointer?
                let result = git_tree_entry_bypath(&entry, root, trimmed)
                guard result == 0, let entry else {
                    git_error_clear()
                    throw GitError(code: .notFound, message: "\(trimmed) does not exist at \(commit.prefix(12))")
                }
                defer { git_tree_entry_free(entry) }
                guard git_tree_entry_type(entry) == GIT_OBJECT_TREE else {
                    throw GitError(code: .notFound, message: "\(trimmed) is not a directory at \(commit.prefix(12))")
                }
                var object: OpaquePointer?
                guard git_tree_entry_to_object(&object, self.repository, entry) == 0 else {
                    throw GitError.last(-1, context: "cannot read \(trimmed)")
                }
                owned = object
                tree = object!
            }
            var files: [GitFile] = []
            try self.collect(tree, prefix: trimmed.isEmpty || trimmed == "." ? "" : trimmed + "/", recursive: recursive, into: &files)
            return files.sorted { $0.path < $1.path }
        }
    }

    /// The paths that differ between two commits, with renames detected.
    func changes(from old: String, to new: String) throws -> [GitChange] {
        try self.withTree(old) { oldTree in
            try self.withTree(new) { newTree in
                var diff: OpaquePointer?
                var result = git_diff_tree_to_tree(&diff, self.repository, oldTree, newTree, nil)
                guard result == 0, let diff else { throw GitError.last(result, context: "cannot diff") }
                defer { git_diff_free(diff) }
                var find = git_diff_find_options()
                git_diff_find_options_init(&find, UInt32(GIT_DIFF_FIND_OPTIONS_VERSION))
                find.flags = GIT_DIFF_FIND_RENAMES.rawValue
                result = git_diff_find_similar(diff, &find)
                guard result == 0 else { throw GitError.last(result, context: "cannot detect renames") }
                return (0..<git_diff_num_deltas(diff)).compactMap { index -> GitChange? in
                    guard let delta = git_diff_get_delta(diff, index)?.pointee else { return nil }
                    let kind: GitChange.Kind
                    switch delta.status {
                    case GIT_DELTA_ADDED: kind = .added
                    case GIT_DELTA_DELETED: kind = .deleted
                    case GIT_DELTA_RENAMED: kind = .renamed
                    case GIT_DELTA_COPIED: kind = .copied
                    case GIT_DELTA_TYPECHANGE: kind = .typeChanged
                    default: kind = .modified
                    }
                    return GitChange(kind: kind, oldPath: String(cString: delta.old_file.path), path: String(cString: delta.new_file.path))
                }
            }
        }
    }

    private func withTree<Result>(_ commit: String, _ body: (OpaquePointer) throws -> Result) throws -> Result {
        guard var oid = Self.oid(commit) else { throw GitError(code: .invalidArgument, message: "'\(commit)' is not a commit id") }
        var commitObject: OpaquePointer?
        var result = git_commit_lookup(&commitObject, self.repository, &oid)
        guard result == 0, let commitObject else {
            git_error_clear()
            throw GitError(code: .notFound, message: "commit \(commit) is not in the repository")
        }
        defer { git_commit_free(commitObject) }
        var tree: OpaquePointer?
        result = git_commit_tree(&tree, commitObject)
        guard result == 0, let tree else { throw GitError.last(result, context: "cannot read tree of \(commit)") }
        defer { git_tree_free(tree) }
        return try body(tree)
    }

    private func collect(_ tree: OpaquePointer, prefix: String, recursive: Bool, into files: inout [GitFile]) throws {
        for index in 0..<git_tree_entrycount(tree) {
            guard let entry = git_tree_entry_byindex(tree, index) else { continue }
            let name = String(cString: git_tree_entry_name(entry))
            let path = prefix + name
            var object: OpaquePointer?
            switch git_tree_entry_type(entry) {
            case GIT_OBJECT_TREE where recursive:
                guard git_tree_entry_to_object(&object, self.repository, entry) == 0, let object else {
                    throw GitError.last(-1, context: "cannot read \(path)")
                }
                defer { git_object_free(object) }
                try self.collect(object, prefix: path + "/", recursive: true, into: &files)
            case GIT_OBJECT_BLOB:
                guard git_tree_entry_to_object(&object, self.repository, entry) == 0, let object else {
                    throw GitError.last(-1, context: "cannot read \(path)")
                }
                defer { git_object_free(object) }
                let size = Int(git_blob_rawsize(object))
                let bytes = size == 0 ? [] : Array(UnsafeRawBufferPointer(start: git_blob_rawcontent(object), count: size))
                let mode = git_tree_entry_filemode(entry)
                let kind: GitFile.Kind = mode == GIT_FILEMODE_LINK ? .symlink : (mode == GIT_FILEMODE_BLOB_EXECUTABLE ? .executable : .regular)
                files.append(GitFile(path: path, kind: kind, contents: bytes))
            default:
                continue  // subdirectories when not recursive, submodules
            }
        }
    }

    static func oid(_ sha: String) -> git_oid? {
        guard sha.count == 40, sha.allSatisfy(\.isHexDigit) else { return nil }
        var oid = git_oid()
        guard git_oid_fromstr(&oid, sha) == 0 else {
            git_error_clear()
            return nil
        }
        return oid
    }

    static func hex(_ oid: UnsafePointer<git_oid>?) -> String {
        guard let oid else { return "" }
        var buffer = [CChar](repeating: 0, count: 41)
        git_oid_tostr(&buffer, buffer.count, oid)
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

/// Lends `strings` as a `git_strarray`. Do not let the pointer escape.
func withStringArray<Result>(_ strings: [String], _ body: (UnsafePointer<git_strarray>) -> Result) -> Result {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeMutableBufferPointer { buffer in
        var array = git_strarray(strings: buffer.baseAddress, count: buffer.count)
        return body(&array)
    }
}

/// Credentials for one fetch, reached from libgit2's callback through the payload pointer.
/// The fetch keeps it alive for the duration of `git_remote_fetch`.
final class CredentialContext {
    let credentials: GitCredentials
    var attempts = 0
    var refused = false
    /// Set by a push when the remote rejects the ref update.
    var rejection: String?

    init(credentials: GitCredentials) {
        self.credentials = credentials
    }
}

/// libgit2 asks again after a rejected credential; answering once stops an endless retry loop.
let credentialCallback: @convention(c) (
    UnsafeMutablePointer<UnsafeMutablePointer<git_credential>?>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UInt32, UnsafeMutableRawPointer?
) -> Int32 = { out, _, usernameFromURL, allowedTypes, payload in
    guard let out, let payload else { return GIT_PASSTHROUGH.rawValue }
    let context = Unmanaged<CredentialContext>.fromOpaque(payload).takeUnretainedValue()
    // A username-only request (SSH asks for one first) is not an attempt; a key or password is.
    let isUsernameRequest = allowedTypes & GIT_CREDENTIAL_USERNAME.rawValue != 0
    if !isUsernameRequest { context.attempts += 1 }
    guard context.attempts <= 1 else {
        context.refused = true
        git_error_set_str(Int32(GIT_ERROR_NET.rawValue), "the server rejected the configured credentials")
        return GIT_EAUTH.rawValue
    }
    switch context.credentials {
    case .none:
        context.refused = true
        git_error_set_str(Int32(GIT_ERROR_NET.rawValue), "the server asks for credentials and none are configured")
        return GIT_EAUTH.rawValue
    case .userPassword(let username, let password):
        guard allowedTypes & GIT_CREDENTIAL_USERPASS_PLAINTEXT.rawValue != 0 else { return GIT_PASSTHROUGH.rawValue }
        return git_credential_userpass_plaintext_new(out, username, password)
    case .sshKey(let username, let privateKeyPath, let publicKeyPath, let passphrase):
        let user = usernameFromURL.map { String(cString: $0) } ?? username
        if isUsernameRequest {
            return git_credential_username_new(out, user)
        }
        guard allowedTypes & GIT_CREDENTIAL_SSH_KEY.rawValue != 0 else { return GIT_PASSTHROUGH.rawValue }
        return git_credential_ssh_key_new(out, user, publicKeyPath, privateKeyPath, passphrase)
    }
}
