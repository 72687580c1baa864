import TributaryCore
import TributaryKafka

extension KafkaSettings {
    /// Client settings for a cluster at `bootstrapServers` with this section's properties.
    ///
    /// - Throws: `SecretError` naming the property whose secret cannot be read.
    public func clientConfiguration(bootstrapServers: String) throws -> KafkaConfiguration {
        var configuration = KafkaConfiguration(bootstrapServers: bootstrapServers)
        configuration.properties = try self.resolvedProperties()
        return configuration
    }
}
