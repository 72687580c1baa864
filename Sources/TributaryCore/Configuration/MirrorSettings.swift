/// The `mirrors` section: how many Git mirrors a planner or worker keeps on disk (under its data
/// directory). Past either limit, the least recently used are deleted, and cloned again when used.
public struct MirrorSettings: Sendable, Equatable {
    /// `maxRepositories`. Default none.
    public var maxRepositories: Int?
    /// `maxSize`: bytes, or a quantity such as `512Mi` or `20Gi`. Default none.
    public var maxBytes: Int64?

    public init() {}

    init(node: ConfigurationNode) throws {
        let mapping = try node.mapping(allowedKeys: ["maxRepositories", "maxSize"])
        self.maxRepositories = try mapping["maxRepositories"]?.int(in: 1...1_000_000)
        self.maxBytes = try mapping["maxSize"]?.byteSize()
    }
}
