import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TributaryCore
import TributaryGit
import TributaryKafka
import TributarySync

/// `tributary worker`: a member of the sync worker group.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Consume change events as the tributary-workers group, sync apps and publish sync events."
    )

    @OptionGroup var options: CommonOptions
    @OptionGroup var worker: WorkerOptions

    func run() async throws {
        let logger = try self.options.bootstrapLogging(label: "tributary.worker")
        let configuration = try self.options.loadConfiguration()
        let connection = try ClusterConnection.open(brokers: self.options.brokers(configuration: configuration), settings: configuration.kafka, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = connection.embeddedBroker.map { [.init(service: $0)] } ?? []
        services += try WorkerServices.make(configuration: configuration, options: self.worker, bootstrapServers: connection.bootstrapServers, logger: logger)
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Options of the worker, shared by `worker` and `dev`.
struct WorkerOptions: ParsableArguments {
    @Option(name: .long, help: "Where git mirrors are kept.")
    var dataDir: String = ".tributary"

    @Option(name: .long, help: "How many apps may sync at once.")
    var parallelism: Int = 8

    @Option(name: .long, help: "host:port for /healthz, /readyz and /metrics (off when not given).")
    var httpAddress: String?

    @Option(name: .long, help: "Consumer group session timeout in seconds: how soon a dead worker's apps move.")
    var sessionTimeout: Int = 10
}

/// The worker's services, in start order: producer, worker, then the optional HTTP endpoint.
enum WorkerServices {
    static func make(configuration: TributaryConfiguration, options: WorkerOptions, bootstrapServers: String, logger: Logger) throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let kafka = try configuration.kafka.clientConfiguration(bootstrapServers: bootstrapServers)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger)
        let mirrors = GitMirrorCache(directory: URL(fileURLWithPath: options.dataDir).appendingPathComponent("mirrors"), logger: logger)
        let engine = try SyncEngine(configuration: configuration, mirrors: mirrors, parallelism: options.parallelism, logger: logger)
        var workerOptions = SyncWorker.Options()
        workerOptions.sessionTimeout = .seconds(options.sessionTimeout)
        let worker = SyncWorker(topics: configuration.kafka.topics, kafka: kafka, engine: engine, producer: producer, options: workerOptions, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: producer), .init(service: worker)]
        if let address = options.httpAddress {
            let metrics = engine.metrics
            let endpoint = try StatusEndpoint.make(
                address: address,
                name: "WORKER",
                readiness: {
                    worker.isReady
                        ? (true, "ready: partitions \(worker.assignedPartitions.map(\.description).joined(separator: ","))")
                        : (false, "joining the consumer group")
                },
                metrics: { metrics.render() },
                logger: logger
            )
            services.append(.init(service: endpoint))
        }
        return services
    }
}
