/// Settings shared by producers and consumers.
///
/// Every field maps to a librdkafka property (named in its doc line); `properties` passes any other
/// property through unchanged, and wins over the typed fields.
public struct KafkaConfiguration: Sendable {
    /// `bootstrap.servers`: comma-separated `host:port` list. Required.
    public var bootstrapServers: String
    /// `client.id`. Default `tributary`.
    public var clientID: String = "tributary"
    /// Security settings for real clusters. Default plaintext.
    public var security: Security = .init()
    /// `socket.connection.setup.timeout.ms`. Default 10 s (librdkafka's is 30 s).
    public var connectionSetupTimeout: Duration = .seconds(10)
    /// Any other librdkafka property, by its librdkafka name. Applied last.
    public var properties: [String: String] = [:]

    public init(bootstrapServers: String) {
        self.bootstrapServers = bootstrapServers
    }

    /// Transport security and authentication.
    public struct Security: Sendable {
        /// `security.protocol`: `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl`. Default `plaintext`.
        public var `protocol`: String = "plaintext"
        /// `sasl.mechanism`: `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`, ... Default unset.
        public var saslMechanism: String?
        /// `sasl.username`. Default unset.
        public var saslUsername: String?
        /// `sasl.password`. Default unset. Never logged.
        public var saslPassword: String?
        /// `ssl.ca.location`: CA bundle to verify the brokers. Default: the system's.
        public var sslCALocation: String?
        /// `ssl.certificate.location` for mutual TLS. Default unset.
        public var sslCertificateLocation: String?
        /// `ssl.key.location` for mutual TLS. Default unset.
        public var sslKeyLocation: String?
        /// `ssl.key.password`. Default unset. Never logged.
        public var sslKeyPassword: String?

        public init() {}

        var properties: [String: String] {
            var result = ["security.protocol": self.protocol]
            result["sasl.mechanism"] = self.saslMechanism
            result["sasl.username"] = self.saslUsername
            result["sasl.password"] = self.saslPassword
            result["ssl.ca.location"] = self.sslCALocation
            result["ssl.certificate.location"] = self.sslCertificateLocation
            result["ssl.key.location"] = self.sslKeyLocation
            result["ssl.key.password"] = self.sslKeyPassword
            return result
        }
    }

    /// The shared properties from the typed fields; `properties` is merged over them last, by each client type.
    var commonProperties: [String: String] {
        var result = self.security.properties
        result["bootstrap.servers"] = self.bootstrapServers
        result["client.id"] = self.clientID
        result["socket.connection.setup.timeout.ms"] = String(self.connectionSetupTimeout.milliseconds)
        // Logs reach swift-log through the log callback; connection-close chatter is noise there.
        result["log.connection.close"] = "false"
        return result
    }
}

extension Duration {
    /// Whole milliseconds, rounded down, as librdkafka properties want them.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// Property names whose values are never logged or echoed in errors.
let secretPropertyNames: Set<String> = ["sasl.password", "ssl.key.password", "sasl.oauthbearer.client.secret", "ssl.keystore.password"]
