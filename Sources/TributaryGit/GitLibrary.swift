import CLibgit2
import Synchronization

/// The process-wide libgit2 library state.
///
/// `git_libgit2_init` must run once before any other libgit2 call; `GitLibrary.initialize()` does
/// that exactly once however many callers race to it.
public enum GitLibrary {
    private static let initialized = Mutex(false)

    /// Initialises libgit2 once for the process.
    public static func initialize() {
        Self.initialized.withLock { done in
            guard !done else { return }
            git_libgit2_init()
            done = true
        }
    }

    /// The linked libgit2 version, `major.minor.revision`.
    public static var version: String {
        var major: Int32 = 0
        var minor: Int32 = 0
        var revision: Int32 = 0
        git_libgit2_version(&major, &minor, &revision)
        return "\(major).\(minor).\(revision)"
    }

    /// Transports and features this libgit2 build was compiled with.
    public static var features: Features {
        let flags = UInt32(git_libgit2_features())
        return Features(
            https: flags & GIT_FEATURE_HTTPS.rawValue != 0,
            ssh: flags & GIT_FEATURE_SSH.rawValue != 0,
            threads: flags & GIT_FEATURE_THREADS.rawValue != 0
        )
    }

    public struct Features: Hashable, Sendable {
        public var https: Bool
        public var ssh: Bool
        public var threads: Bool
    }
}
