import ArgumentParser
import Logging
import ServiceLifecycle
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding
import TributaryWebhooks

/// `tributary listen`: the webhook listener.
struct ListenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Receive Git webhooks, verify them and publish change events to Kafka."
    )

    @OptionGroup var options: CommonOptions

    @Option(name: .long, help: "host:port to bind, overriding listener.address (port 0 picks a free port).")
    var address: String?

    func run() async throws {
        let logger = try self.options.bootstrapLogging(label: "tributary.listener")
        var configuration = try self.options.loadConfiguration()
        if let address = self.address { try configuration.listener.setAddress(address) }
        let connection = try ClusterConnection.open(brokers: self.options.brokers(configuration: configuration), settings: configuration.kafka, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = connection.embeddedBroker.map { [.init(service: $0)] } ?? []
        services += try ListenerServices.make(configuration: configuration, bootstrapServers: connection.bootstrapServers, logger: logger)
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The listener's services, in start order: the producers, then the HTTP server (which stops first).
enum ListenerServices {
    static func make(configuration: TributaryConfiguration, bootstrapServers: String, logger: Logger) throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let kafka = try configuration.kafka.clientConfiguration(bootstrapServers: bootstrapServers)
        let publisher = ListenerPublisher(
            immediate: try KafkaProducer(configuration: WebhookListener.producerConfiguration(configuration, kafka: kafka, immediate: true), logger: logger),
            batching: try KafkaProducer(configuration: WebhookListener.producerConfiguration(configuration, kafka: kafka), logger: logger)
        )
        let listener = try WebhookListener(configuration: configuration, publisher: publisher, logger: logger)
        let host = configuration.listener.host
        let application = listener.makeApplication { port in
            printLine("LISTENING=http://\(host):\(port)")
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = publisher.producers.map { .init(service: $0) } + [.init(service: application)]
        let metricsHost = configuration.listener.metricsAddress?.host ?? host
        if let metrics = listener.makeMetricsApplication(onServerRunning: { port in printLine("METRICS=http://\(metricsHost):\(port)") }) {
            services.append(.init(service: metrics))
        }
        return services
    }
}
