import Foundation
import TributaryCore

extension GitRemote {
    /// The remote for `url`, with credentials from its `repositories` entry resolved.
    ///
    /// - Throws: `GitError.invalidArgument` naming the secret reference (never its value) when it
    ///   cannot be read, or when an SSH key is not given as a file.
    public init(url: String, repository: RepositorySettings?) throws {
        guard let repository else {
            self.init(url: url)
            return
        }
        do {
            if let password = repository.password {
                self.init(url: url, credentials: .userPassword(username: repository.username ?? "git", password: try password.resolve()))
            } else if let key = repository.sshKey {
                // libgit2 reads SSH keys from files; other sources would need a temporary copy on disk.
                guard case .file(let path) = key else {
                    throw GitError(code: .invalidArgument, message: "repository \(url): auth.sshKey must be { file: PATH }")
                }
                self.init(url: url, credentials: .sshKey(username: repository.username ?? "git", privateKeyPath: path, publicKeyPath: nil, passphrase: nil))
            } else {
                self.init(url: url)
            }
        } catch let error as SecretError {
            throw GitError(code: .invalidArgument, message: "repository \(url): \(error)")
        }
    }
}
