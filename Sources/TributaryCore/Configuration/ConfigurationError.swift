/// A configuration file that cannot be used, located by file, line and key.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file, as given on the command line.
    public var file: String
    /// 1-based line, when known.
    public var line: Int?
    /// The dotted key path: `kafka.partitions`, `webhooks.github.secrets[1]`.
    public var key: String
    /// What is wrong. Never contains a secret value.
    public var message: String

    public init(file: String, line: Int?, key: String, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    /// `file:line: key: message`, as compilers print it.
    public var description: String {
        let location = self.line.map { "\(self.file):\($0)" } ?? self.file
        return self.key.isEmpty ? "\(location): \(self.message)" : "\(location): \(self.key): \(self.message)"
    }
}
