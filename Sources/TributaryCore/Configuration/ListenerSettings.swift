import Foundation

/// The `listener` section: the webhook HTTP server.
public struct ListenerSettings: Sendable {
    /// `address`: `host:port` to bind. Default `127.0.0.1:8080`.
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// `maxBodyBytes`: larger bodies are answered 413. Default 25 MiB, GitHub's own cap.
    public var maxBodyBytes: Int = 26_214_400
    /// `publishTimeout`: longest wait for the broker's acknowledgement before answering 503. Default 8 s,
    /// inside GitHub's 10 s delivery timeout.
    public var publishTimeout: Duration = .seconds(8)
    /// `deduplicationWindow`: how long a delivery id is remembered. Default 1 h.
    public var deduplicationWindow: Duration = .seconds(3600)
    /// `maxInFlight`: webhooks waiting for the broker at once; past it, 503. Default 1024.
    public var maxInFlight: Int = 1024
    /// `allowedRepositories`: repository-key globs; when set, others are answered 403. Default: all.
    public var allowedRepositories: [String] = []

    public init() {}

    /// Sets `host` and `port` from `host:port`.
    ///
    /// - Throws: `ListenerAddressError` when the text is not `host:port` with a port of 0–65535.
    public mutating func setAddress(_ text: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ListenerAddressError(address: text)
        }
        self.host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        self.port = port
    }

    init(node: ConfigurationNode) throws {
        let mapping = try node.mapping(allowedKeys: ["address", "maxBodyBytes", "publishTimeout", "deduplicationWindow", "maxInFlight", "allowedRepositories"])
        if let value = mapping["address"] {
            let text = try value.string()
            do {
                try self.setAddress(text)
            } catch {
                throw value.error("expected host:port, got '\(text)'")
            }
        }
        if let value = mapping["maxBodyBytes"] { self.maxBodyBytes = try value.int(in: 1024...1_073_741_824) }
        if let value = mapping["publishTimeout"] { self.publishTimeout = try value.duration() }
        if let value = mapping["deduplicationWindow"] { self.deduplicationWindow = try value.duration() }
        if let value = mapping["maxInFlight"] { self.maxInFlight = try value.int(in: 1...1_000_000) }
        if let value = mapping["allowedRepositories"] { self.allowedRepositories = try value.stringList() }
    }
}

/// A listener address that is not `host:port`.
public struct ListenerAddressError: Error, CustomStringConvertible {
    public var address: String
    public var description: String { "expected host:port, got '\(self.address)'" }
}
