/// A failed request to a Kubernetes API server, or a client-side problem reaching it. Messages
/// never contain a token, a key or a certificate.
public struct KubernetesError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: Hashable, Sendable {
            case unreachable, unauthorized, forbidden, notFound, conflict, invalid, unknownKind, rejected, credentials, timeout
        }
        private let backing: Backing
        private init(_ backing: Backing) { self.backing = backing }

        /// The API server did not answer (connection refused, TLS failure, 5xx). Worth retrying.
        public static let unreachable = Code(.unreachable)
        /// 401: the credentials were refused.
        public static let unauthorized = Code(.unauthorized)
        /// 403: not allowed (RBAC) — or denied by admission, which the API reports the same way.
        public static let forbidden = Code(.forbidden)
        public static let notFound = Code(.notFound)
        /// 409: a field-ownership conflict, an object that exists, or a stale resourceVersion.
        public static let conflict = Code(.conflict)
        /// 422: the object is invalid.
        public static let invalid = Code(.invalid)
        /// The server serves no such kind (after refreshing discovery).
        public static let unknownKind = Code(.unknownKind)
        /// Any other 4xx (400 from an admission webhook, 415, ...).
        public static let rejected = Code(.rejected)
        /// The configured credentials cannot be read or produced (kubeconfig, exec plugin, files).
        public static let credentials = Code(.credentials)
        /// Waited too long (a CRD to be established, an object to be healthy).
        public static let timeout = Code(.timeout)

        public var description: String {
            switch self.backing {
            case .unreachable: "unreachable"
            case .unauthorized: "unauthorized"
            case .forbidden: "forbidden"
            case .notFound: "not found"
            case .conflict: "conflict"
            case .invalid: "invalid"
            case .unknownKind: "unknown kind"
            case .rejected: "rejected"
            case .credentials: "credentials"
            case .timeout: "timeout"
            }
        }
    }

    public var code: Code
    /// The HTTP status, when the server answered.
    public var status: Int?
    /// The Status object's `reason` (`Conflict`, `Invalid`, `Forbidden`, ...).
    public var reason: String?
    /// The Status object's message, or what went wrong client-side.
    public var message: String
    /// `details.causes[].field` of the Status: the fields a conflict or a validation names.
    public var fields: [String]

    public init(code: Code, status: Int? = nil, reason: String? = nil, message: String, fields: [String] = []) {
        self.code = code
        self.status = status
        self.reason = reason
        self.message = message
        self.fields = fields
    }

    /// Reads a `Status` body the server answered with `status`.
    init(status: Int, body: JSONValue?) {
        let reason = body?["reason"]?.string
        let message = body?["message"]?.string ?? "HTTP \(status)"
        let fields = body?[path: "details.causes"]?.array?.compactMap { $0["field"]?.string } ?? []
        let code: Code =
            switch status {
            case 401: .unauthorized
            case 403: .forbidden
            case 404: .notFound
            case 409: .conflict
            case 422: .invalid
            case 400..<500: .rejected
            default: .unreachable
            }
        self.init(code: code, status: status, reason: reason, message: message, fields: fields)
    }

    public var description: String {
        if let reason { return "\(reason): \(self.message)" }
        return self.message
    }
}
