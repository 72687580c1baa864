import CLibgit2

/// An error from fetching or reading a repository. Messages never contain credentials.
public struct GitError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: Hashable, Sendable { case authentication, notFound, network, repository, invalidArgument, conflict }
        private let backing: Backing
        private init(_ backing: Backing) { self.backing = backing }

        /// The server refused the credentials (or none were configured).
        public static let authentication = Code(.authentication)
        /// A ref, commit or path does not exist.
        public static let notFound = Code(.notFound)
        /// The server could not be reached or the transfer failed.
        public static let network = Code(.network)
        /// The local mirror is unusable, or another libgit2 failure.
        public static let repository = Code(.repository)
        /// The caller asked for something malformed (a SHA that is not hex, say).
        public static let invalidArgument = Code(.invalidArgument)
        /// A push kept losing to other pushes.
        public static let conflict = Code(.conflict)

        public var description: String {
            switch self.backing {
            case .authentication: "authentication"
            case .notFound: "notFound"
            case .network: "network"
            case .repository: "repository"
            case .invalidArgument: "invalidArgument"
            case .conflict: "conflict"
            }
        }
    }

    public var code: Code
    public var message: String
    /// libgit2's return code, when it reported the error.
    public var gitCode: Int32?
    public var file: String
    public var line: Int

    public init(code: Code, message: String, gitCode: Int32? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = GitError.redactingCredentials(message)
        self.gitCode = gitCode
        self.file = file
        self.line = line
    }

    public var description: String { "GitError(\(self.code)): \(self.message)" }

    /// Builds an error from a failed libgit2 call. Call it right after the call, before any `await`:
    /// libgit2 keeps the last error per thread.
    static func last(_ result: Int32, context: String, file: String = #fileID, line: Int = #line) -> GitError {
        let detail = git_error_last().flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "error \(result)"
        let klass = git_error_last()?.pointee.klass ?? 0
        let code: Code
        switch result {
        case GIT_EAUTH.rawValue, GIT_EUSER.rawValue: code = .authentication
        case GIT_ENOTFOUND.rawValue: code = .notFound
        case GIT_EINVALIDSPEC.rawValue, GIT_EAMBIGUOUS.rawValue: code = .invalidArgument
        default:
            switch git_error_t(rawValue: UInt32(klass)) {
            case GIT_ERROR_NET, GIT_ERROR_HTTP, GIT_ERROR_SSH, GIT_ERROR_SSL, GIT_ERROR_OS:
                code = detail.contains("401") || detail.lowercased().contains("auth") ? .authentication : .network
            default:
                code = .repository
            }
        }
        git_error_clear()
        return GitError(code: code, message: "\(context): \(detail)", gitCode: result, file: file, line: line)
    }

    /// Removes `user:password@` from any URL in `text`.
    static func redactingCredentials(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let scheme = rest.range(of: "://") {
            result += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == " " || $0 == "'" || $0 == "\"" } ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@") {
                result += "***@"
                rest = rest[rest.index(after: at)...]
            }
        }
        return result + rest
    }
}
