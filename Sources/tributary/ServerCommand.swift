import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TributaryCore
import TributaryKafka
import TributaryServer

/// `tributary server`: the status API, built from the topics; run as many replicas as you like.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Serve the status API (apps, their syncs and health, pushes, a live event stream) from the topics.",
        discussion: "Every replica reads all partitions of the changes, sync, notifications and delivered topics and answers the same; a restarted one rebuilds from the topics. Prints SERVER=http://host:port once listening."
    )

    @OptionGroup var options: CommonOptions

    @Option(name: .long, help: "host:port to serve on (default the file's server.address, 127.0.0.1:8081).")
    var address: String?

    func run() async throws {
        let logger = try self.options.bootstrapLogging(label: "tributary.server")
        var configuration = try self.options.loadRequiredConfiguration(for: "server")
        if let address = self.address {
            do { configuration.server.address = try HostPort(parsing: address) } catch { throw ValidationError("--address: \(error)") }
        }
        let connection = try ClusterConnection.open(brokers: self.options.brokers(configuration: configuration), settings: configuration.kafka, clusters: configuration.clusterNames, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = connection.embeddedBroker.map { [.init(service: $0)] } ?? []
        services += try ServerServices.make(configuration: configuration, bootstrapServers: connection.bootstrapServers, logger: logger)
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The status server's services: producer (for actions), the topic reader, the HTTP server.
enum ServerServices {
    static func make(configuration: TributaryConfiguration, bootstrapServers: String, logger: Logger) throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let settings = configuration.server
        guard !settings.tokens.isEmpty || settings.allowUnauthenticated else {
            throw ValidationError("the status server needs server.tokens (or, for development only, server.allowUnauthenticated: true)")
        }
        let host = settings.address.host
        let access: AccessControl
        do {
            access = try AccessControl(settings: settings)
        } catch {
            throw ValidationError("server.tokens: \(error)")
        }
        let kafka = try configuration.kafka.clientConfiguration(bootstrapServers: bootstrapServers)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger)
        let model = StatusModel(state: StatusState(apps: configuration.apps, limits: .init(historyPerApp: settings.historyPerApp, pushes: settings.pushes)))
        let actions = OperatorActions(producer: producer, topics: configuration.kafka.topics, source: "tributary/server/\(ProcessInfo.processInfo.hostName)")
        let server = StatusServer(model: model, access: access, configuration: configuration, actions: actions)
        if settings.allowUnauthenticated { logger.warning("The status server answers without a token (server.allowUnauthenticated): for development only") }
        return [
            .init(service: producer),
            .init(service: model.reader(topics: configuration.kafka.topics, kafka: kafka, logger: logger)),
            .init(service: server.application(host: host, port: settings.address.port, logger: logger) { port in printLine("SERVER=http://\(host):\(port)") }),
        ]
    }
}
