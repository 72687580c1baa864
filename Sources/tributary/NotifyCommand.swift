import ArgumentParser
import Logging
import ServiceLifecycle
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding
import TributaryNotify
import TributaryStage

/// `tributary notify`: the notifier's two stages in one process.
struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "Turn sync events into notifications and deliver them to Slack, email and webhook sinks."
    )

    @OptionGroup var options: CommonOptions

    @Option(name: .long, help: "Consumer group session timeout in seconds.")
    var sessionTimeout: Int = 10

    @Option(name: .long, help: "host:port for /healthz, /readyz and /metrics (off when not given).")
    var httpAddress: String?

    func run() async throws {
        let logger = try self.options.bootstrapLogging(label: "tributary.notifier")
        let configuration = try self.options.loadRequiredConfiguration(for: "notify")
        let connection = try ClusterConnection.open(brokers: self.options.brokers(configuration: configuration), settings: configuration.kafka, clusters: configuration.clusterNames, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = connection.embeddedBroker.map { [.init(service: $0)] } ?? []
        services += try NotifierServices.make(
            configuration: configuration, bootstrapServers: connection.bootstrapServers, sessionTimeout: .seconds(self.sessionTimeout),
            httpAddress: self.httpAddress, logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The notifier's services, in start order: producer, router (stage one), delivery (stage two).
enum NotifierServices {
    static func make(
        configuration: TributaryConfiguration,
        bootstrapServers: String,
        sessionTimeout: Duration = .seconds(10),
        httpAddress: String? = nil,
        logger: Logger
    ) throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let kafka = try configuration.kafka.clientConfiguration(bootstrapServers: bootstrapServers)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger)
        let router = NotificationRouter(
            settings: configuration.notifications, topics: configuration.kafka.topics, producer: producer,
            sessionTimeout: sessionTimeout, logger: logger
        ).makeStage(kafka: kafka)
        let delivery = try NotificationDelivery(configuration: configuration, kafka: kafka, producer: producer, sessionTimeout: sessionTimeout, logger: logger)
        let deliveryStage = delivery.makeStage()
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: producer), .init(service: router), .init(service: deliveryStage)]
        if let httpAddress {
            let metrics = delivery.metrics
            services.append(.init(service: try StatusEndpoint.make(
                address: httpAddress, name: "NOTIFIER",
                readiness: {
                    let (routing, delivering) = (router.readiness, deliveryStage.readiness)
                    return (routing.ready && delivering.ready, "router: \(routing.reason); delivery: \(delivering.reason)")
                },
                metrics: { metrics.render() + router.renderMetrics() + deliveryStage.renderMetrics() },
                logger: logger
            )))
        }
        return services
    }
}
