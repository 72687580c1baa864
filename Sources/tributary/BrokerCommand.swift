import ArgumentParser
import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import TributaryCore
import TributaryKafka

/// `tributary broker`: the embedded Kafka-protocol cluster as a process of its own.
struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run the embedded Kafka-protocol broker (librdkafka's mock cluster) on 127.0.0.1.",
        discussion: "Prints BOOTSTRAP=host:port[,...] on standard output when ready. For development and tests only: data lives in memory."
    )

    @Option(name: .long, help: "Number of brokers, 1 to 3.")
    var brokers: Int = 1

    @Option(name: .long, help: "Partitions for each of Tributary's topics.")
    var partitions: Int = 6

    @Option(name: .long, help: "Topic prefix.")
    var topicPrefix: String = "tributary"

    @Option(name: .long, help: "Also create the requests topic of this cluster (repeat for several).")
    var cluster: [String] = []

    @Option(name: .long, help: "Also write the bootstrap list to this file.")
    var bootstrapFile: String?

    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func run() async throws {
        let logger = try CommonOptions.parse(["--log-level", self.logLevel]).bootstrapLogging(label: "tributary.broker")
        guard (1...1000).contains(self.partitions) else { throw ValidationError("--partitions must be between 1 and 1000") }
        var settings = KafkaSettings()
        settings.embeddedBrokerCount = self.brokers
        settings.partitions = self.partitions
        settings.topicPrefix = self.topicPrefix
        let connection = try ClusterConnection.open(brokers: .embedded, settings: settings, clusters: self.cluster, logger: logger)
        guard let broker = connection.embeddedBroker else { return }

        if let path = self.bootstrapFile {
            try Data((broker.bootstrapServers + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        }
        printLine("BOOTSTRAP=\(broker.bootstrapServers)")

        // Fault injection (scripts/fault-suite): SIGUSR1 takes every broker off the network and
        // SIGUSR2 brings them back, in place — restarting the mock would lose its data.
        let brokerCount = Int32(self.brokers)
        let faults = [SIGUSR1, SIGUSR2].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                for id in 1...brokerCount { number == SIGUSR1 ? broker.setBrokerDown(id) : broker.setBrokerUp(id) }
                logger.warning(number == SIGUSR1 ? "Brokers set down (SIGUSR1)" : "Brokers set up again (SIGUSR2)")
            }
            source.resume()
            return source
        }
        defer { faults.forEach { $0.cancel() } }

        let group = ServiceGroup(
            configuration: .init(services: [.init(service: broker)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
        logger.info("Embedded Kafka broker stopped")
    }
}
