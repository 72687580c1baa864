/// Why an app's manifests cannot be rendered, located by file and, for YAML problems, line.
public struct RenderError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file, relative to the repository root.
    public var file: String
    public var line: Int?
    public var message: String

    public init(file: String, line: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    /// `file:line: message`.
    public var description: String {
        self.line.map { "\(self.file):\($0): \(self.message)" } ?? "\(self.file): \(self.message)"
    }
}
