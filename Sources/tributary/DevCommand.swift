import ArgumentParser
import Logging
import ServiceLifecycle
import TributaryCore
import TributaryKafka

/// `tributary dev`: everything in one process, on the embedded broker by default.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run the embedded broker, the listener, the planner, the workers, the notifier and (when server is configured) the status server in one process."
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
            clusters: configuration.clusterNames,
            logger: logger
        )
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let broker = connection.embeddedBroker {
            services.append(.init(service: broker))
        }
        services += try ListenerServices.make(configuration: configuration, bootstrapServers: connection.bootstrapServers, logger: logger)
        if !configuration.apps.isEmpty {
            services += try PlannerServices.make(configuration: configuration, dataDir: self.worker.dataDir, bootstrapServers: connection.bootstrapServers, logger: logger)
            // One worker for the apps without a cluster and one per cluster, as separate groups would run them.
            var workerOptions = self.worker
            for cluster in [nil] + configuration.clusterNames.map(Optional.some) {
                services += try WorkerServices.make(configuration: configuration, options: workerOptions, cluster: cluster, bootstrapServers: connection.bootstrapServers, logger: logger)
                workerOptions.httpAddress = nil  // one status endpoint: the default group's worker
            }
        }
        if !configuration.notifications.subscriptions.isEmpty {
            services += try NotifierServices.make(configuration: configuration, bootstrapServers: connection.bootstrapServers, logger: logger)
        }
        if !configuration.server.tokens.isEmpty || configuration.server.allowUnauthenticated {
            services += try ServerServices.make(configuration: configuration, bootstrapServers: connection.bootstrapServers, logger: logger)
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
