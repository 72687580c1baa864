import Foundation
import Logging
import TributaryCore

/// Log lines on standard error: `<time> <level> <label>: <metadata> [<source>] <message>`.
///
/// Unlike swift-log's `StreamLogHandler`, metadata is formatted only when a line is written.
/// Hummingbird sets a request id on every request's logger, and re-rendering all metadata on each
/// change cost the listener about one percent of its time per webhook.
struct StandardErrorLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider

    init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = self.metadata
        if let provided = self.metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error { merged["error"] = "\(error)" }
        let rendered = merged.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
        let text = "\(RFC3339.format(Date())) \(event.level) \(self.label):\(rendered) [\(event.source)] \(event.message)\n"
        // One write per line, so lines from several threads do not interleave.
        FileHandle.standardError.write(Data(text.utf8))
    }
}
