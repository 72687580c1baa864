import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TributaryCore
import TributaryGit
import TributaryKafka
import TributaryKafkaBinding
import TributaryPlanner
import TributarySource
import TributaryStage

/// `tributary plan`: a member of the planner group.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Consume change events as the tributary-planners group and publish one sync request per app a push concerns."
    )

    @OptionGroup var options: CommonOptions

    @Option(name: .long, help: "Where git mirrors are kept.")
    var dataDir: String = ".tributary"

    @Option(name: .long, help: "host:port for /healthz, /readyz and /metrics (off when not given).")
    var httpAddress: String?

    @Option(name: .long, help: "Consumer group session timeout in seconds.")
    var sessionTimeout: Int = 10

    func run() async throws {
        let logger = try self.options.bootstrapLogging(label: "tributary.planner")
        let configuration = try self.options.loadRequiredConfiguration(for: "plan")
        let connection = try ClusterConnection.open(brokers: self.options.brokers(configuration: configuration), settings: configuration.kafka, clusters: configuration.clusterNames, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = connection.embeddedBroker.map { [.init(service: $0)] } ?? []
        services += try PlannerServices.make(
            configuration: configuration, dataDir: self.dataDir, sessionTimeout: .seconds(self.sessionTimeout),
            httpAddress: self.httpAddress, bootstrapServers: connection.bootstrapServers, logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The planner's services, in start order: producer, planner stage, then the optional HTTP endpoint.
enum PlannerServices {
    static func make(
        configuration: TributaryConfiguration, dataDir: String, sessionTimeout: Duration = .seconds(10), httpAddress: String? = nil,
        bootstrapServers: String, logger: Logger
    ) throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let kafka = try configuration.kafka.clientConfiguration(bootstrapServers: bootstrapServers)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger)
        let mirrors = GitMirrorCache(directory: URL(fileURLWithPath: dataDir).appendingPathComponent("planner-mirrors"), limits: .init(configuration.mirrors), logger: logger)
        var options = Planner.Options()
        options.sessionTimeout = sessionTimeout
        let planner = Planner(configuration: configuration, mirrors: mirrors, producer: producer, options: options, logger: logger)
        let stage = planner.makeStage(kafka: kafka)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: producer), .init(service: stage)]
        if let httpAddress {
            services.append(.init(service: try StatusEndpoint.make(
                address: httpAddress, name: "PLANNER", readiness: { stage.readiness }, metrics: { stage.renderMetrics() + planner.renderMetrics() }, logger: logger
            )))
        }
        return services
    }
}
