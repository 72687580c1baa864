import TributaryCore

/// Why a sync failed. Messages never contain credentials.
public struct SyncError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: Hashable, Sendable { case refused, source, render, target }
        private let backing: Backing
        private init(_ backing: Backing) { self.backing = backing }

        /// The app's project does not allow its source or destination. Not retried.
        public static let refused = Code(.refused)
        /// Fetching or reading the source failed.
        public static let source = Code(.source)
        /// The manifests could not be rendered; `sourceError` says where.
        public static let render = Code(.render)
        /// The target could not be written.
        public static let target = Code(.target)

        public var description: String {
            switch self.backing {
            case .refused: "refused"
            case .source: "source"
            case .render: "render"
            case .target: "target"
            }
        }
    }

    public var code: Code
    public var message: String
    /// For render failures: the file and line.
    public var sourceError: SyncEvent.SourceError?
    public var file: String
    public var line: Int

    public init(code: Code, message: String, sourceError: SyncEvent.SourceError? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.sourceError = sourceError
        self.file = file
        self.line = line
    }

    public var description: String { "SyncError(\(self.code)): \(self.message)" }
}
