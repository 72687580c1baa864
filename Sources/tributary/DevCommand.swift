import ArgumentParser
import Logging
import ServiceLifecycle
import TributaryCore
import TributaryKafka

/// `tributary dev`: everything in one process, on the embedded broker by default.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run the embedded broker, the listener, a worker and the notifier in one process."
    )

    @OptionGroup var options: CommonOptions
    @OptionGroup var worker: WorkerOptions

    func run() async throws {
        let logger = try self.options.bootstrapLogging(label: "tributary.dev")
        let configuration = try self.options.loadConfiguration()
        for warning in configuration.warnings { logger.warning("\(warning)") }
        let connection = try ClusterConnection.open(
            brokers: self.options.brokers(configuration: configuration),
            settings: configuration.kafka,
            logger: logger
        )
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let broker = connection.embeddedBroker {
            services.append(.init(service: broker))
        }
        services += try ListenerServices.make(configuration: configuration, bootstrapServers: connection.bootstrapServers, logger: logger)
        if !configuration.apps.isEmpty {
            services += try WorkerServices.make(configuration: configuration, options: self.worker, bootstrapServers: connection.bootstrapServers, logger: logger)
        }
        if !configuration.notifications.subscriptions.isEmpty {
            services += try NotifierServices.make(configuration: configuration, bootstrapServers: connection.bootstrapServers, logger: logger)
        }
        printLine("BOOTSTRAP=\(connection.bootstrapServers)")
        logger.info(
            "Tributary dev mode running; Ctrl-C stops it",
            metadata: ["kafka.bootstrap": "\(connection.bootstrapServers)", "topics": "\(configuration.kafka.topics.all.joined(separator: ","))"]
        )
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
        logger.info("Tributary dev mode stopped")
    }
}
