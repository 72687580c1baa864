import ArgumentParser
import TributaryCore
import TributaryKafka

/// `tributary create-topics`: Tributary's topics on a real cluster (the embedded broker makes its own).
struct CreateTopicsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-topics",
        abstract: "Create Tributary's topics on a Kafka cluster: kafka.partitions each, the ledger and controls compacted. Existing topics are left as they are (their settings are not checked)."
    )

    @OptionGroup var options: CommonOptions

    @Option(name: .long, help: "Copies of each partition; the broker's default when not given.")
    var replicationFactor: Int = -1

    func run() async throws {
        let logger = try self.options.bootstrapLogging(label: "tributary.topics")
        let configuration = try self.options.loadConfiguration()
        guard case .list(let bootstrap) = self.options.brokers(configuration: configuration) else {
            throw ValidationError("create-topics needs a cluster: pass --brokers host:port or set KAFKA_BROKERS (the embedded broker creates its own topics)")
        }
        let topics = configuration.kafka.topics
        let administrator = KafkaAdministrator(configuration: try configuration.kafka.clientConfiguration(bootstrapServers: bootstrap), logger: logger)
        let names = topics.all + configuration.clusterNames.map { topics.requests(cluster: $0) }
        for name in names {
            let compacted = topics.compacted.contains(name)
            try await administrator.createTopics(
                [name], partitions: name == topics.controls ? 1 : configuration.kafka.partitions, replicationFactor: self.replicationFactor,
                configs: compacted ? ["cleanup.policy": "compact"] : [:]
            )
            printLine("\(name)\(compacted ? " (compacted when created here)" : "")")
        }
    }
}
