import Foundation

/// An operator's standing instruction for one app, kept in the compacted `<prefix>.controls` topic
/// keyed by app name: the latest record per app is in force, for every worker and after restarts.
///
/// Today it holds Flux's `suspend`: a suspended app's automated sync and self-heal stop — it is
/// still compared and reported `out-of-sync`, and `tributary sync` still applies it by hand.
public struct AppControl: Codable, Hashable, Sendable {
    public var app: String
    public var suspended: Bool
    /// Who asked (`tributary suspend --by`, default the OS user), for the record.
    public var by: String?
    /// Why, as given.
    public var reason: String?
    public var at: Date

    public init(app: String, suspended: Bool, by: String? = nil, reason: String? = nil, at: Date = Date()) {
        self.app = app
        self.suspended = suspended
        self.by = by
        self.reason = reason
        self.at = at
    }
}
