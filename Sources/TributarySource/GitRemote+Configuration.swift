import Foundation
import TributaryCore
import TributaryGit

extension GitRemote {
    /// The remote for `url`, with credentials from its `repositories` entry resolved, and its
    /// repository key as the mirror's identity (every spelling of one URL shares a mirror).
    ///
    /// - Throws: `GitError.invalidArgument` naming the secret reference (never its value) when it
    ///   cannot be read, or when an SSH key is not given as a file.
    public init(url: String, repository: RepositorySettings?) throws {
        let identity = RepositoryKey(url: url)?.rawValue
        guard let repository else {
            self.init(url: url, key: identity)
            return
        }
        do {
            if let password = repository.password {
                self.init(url: url, credentials: .userPassword(username: repository.username ?? "git", password: try password.resolve()), key: identity)
            } else if let key = repository.sshKey {
                // libgit2 reads SSH keys from files; other sources would need a temporary copy on disk.
                guard case .file(let path) = key else {
                    throw GitError(code: .invalidArgument, message: "repository \(url): auth.sshKey must be { file: PATH }")
                }
                self.init(url: url, credentials: .sshKey(username: repository.username ?? "git", privateKeyPath: path, publicKeyPath: nil, passphrase: nil), key: identity)
            } else {
                self.init(url: url, key: identity)
            }
        } catch let error as SecretError {
            throw GitError(code: .invalidArgument, message: "repository \(url): \(error)")
        }
    }
}

extension GitMirrorCache.Limits {
    /// The limits of the `mirrors` section.
    public init(_ settings: MirrorSettings) {
        self.init(maxRepositories: settings.maxRepositories, maxBytes: settings.maxBytes)
    }
}
