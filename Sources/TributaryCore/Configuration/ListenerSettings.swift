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
    /// `requestTimeout`: a request must arrive whole within it, and an idle connection is closed
    /// after it (slow-loris clients are cut off). Default 30 s.
    public var requestTimeout: Duration = .seconds(30)
    /// `maxHeaderBytes`: larger request headers are refused. Default 32 KiB (GitHub sends ~2 KiB).
    public var maxHeaderBytes = 32 * 1024
    /// `metricsAddress`: `host:port` for `/metrics` alone, off the webhook port (which then has none).
    /// Default nil: `/metrics` on the webhook port.
    public var metricsAddress: HostPort?

    public init() {}

    /// Sets `host` and `port` from `host:port`.
    ///
    /// - Throws: `ListenerAddressError` when the text is not `host:port` with a port of 0–65535.
    public mutating func setAddress(_ text: String) throws {
        let address = try HostPort(parsing: text)
        self.host = address.host
        self.port = address.port
    }

    init(node: ConfigurationNode) throws {
        let mapping = try node.mapping(allowedKeys: ["address", "maxBodyBytes", "publishTimeout", "deduplicationWindow", "maxInFlight", "allowedRepositories", "requestTimeout", "maxHeaderBytes", "metricsAddress"])
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
        if let value = mapping["requestTimeout"] {
            self.requestTimeout = try value.duration()
            guard self.requestTimeout >= .seconds(1) else { throw value.error("the request timeout must be at least 1s") }
        }
        if let value = mapping["maxHeaderBytes"] { self.maxHeaderBytes = try value.int(in: 4096...1_048_576) }
        if let value = mapping["metricsAddress"] { self.metricsAddress = try HostPort(value) }
    }
}

/// A `host:port` to bind (`[::1]:8080` for IPv6).
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// - Throws: `ListenerAddressError` when the text is not `host:port` with a port of 0–65535.
    public init(parsing text: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ListenerAddressError(address: text)
        }
        self.init(host: String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: port)
    }

    /// From a configuration value, with an error at its line.
    init(_ node: ConfigurationNode) throws {
        let text = try node.string()
        do { try self.init(parsing: text) } catch { throw node.error("expected host:port, got '\(text)'") }
    }

    public var description: String { self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)" }
}

/// A listener address that is not `host:port`.
public struct ListenerAddressError: Error, CustomStringConvertible {
    public var address: String
    public var description: String { "expected host:port, got '\(self.address)'" }
}
