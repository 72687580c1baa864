import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TributaryCore
import TributaryGit
import TributaryKafka
import TributaryKafkaBinding
import TributarySource
import TributaryStage
import TributarySync

/// `tributary worker`: a member of a sync worker group.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Consume sync requests as a worker group (tributary-workers, or tributary-workers.<cluster>), sync apps and publish sync events."
    )

    @OptionGroup var options: CommonOptions
    @OptionGroup var worker: WorkerOptions

    @Option(name: .long, help: "Sync only the apps whose destination.name is this cluster, as the group tributary-workers.<cluster>. Without it: only apps that name no cluster.")
    var cluster: String?

    func run() async throws {
        let logger = try self.options.bootstrapLogging(label: "tributary.worker")
        let configuration = try self.options.loadRequiredConfiguration(for: "worker")
        let connection = try ClusterConnection.open(brokers: self.options.brokers(configuration: configuration), settings: configuration.kafka, clusters: configuration.clusterNames, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = connection.embeddedBroker.map { [.init(service: $0)] } ?? []
        services += try WorkerServices.make(configuration: configuration, options: self.worker, cluster: self.cluster, bootstrapServers: connection.bootstrapServers, logger: logger)
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

    @Option(name: .long, help: "Seconds a request for an app missing from this worker's configuration is held (uncommitted, /readyz failing) before it is dead-lettered.")
    var unknownAppTimeout: Int = 300
}

/// The worker's services, in start order: producer, app-control reader, prefetcher, request stage and worker, then the optional HTTP endpoint.
enum WorkerServices {
    static func make(
        configuration: TributaryConfiguration, options: WorkerOptions, cluster: String?, bootstrapServers: String, logger: Logger
    ) throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let kafka = try configuration.kafka.clientConfiguration(bootstrapServers: bootstrapServers)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger)
        let mirrors = GitMirrorCache(directory: URL(fileURLWithPath: options.dataDir).appendingPathComponent("mirrors"), limits: .init(configuration.mirrors), logger: logger)
        // Only this cluster's apps: their targets' credentials are the only ones this process resolves.
        var own = configuration
        own.apps = configuration.apps.filter { $0.cluster == cluster }
        let engine = try SyncEngine(configuration: own, mirrors: mirrors, parallelism: options.parallelism, controls: AppControls(loaded: false), logger: logger)
        var workerOptions = SyncWorker.Options()
        workerOptions.cluster = cluster
        workerOptions.sessionTimeout = .seconds(options.sessionTimeout)
        workerOptions.unknownAppTimeout = .seconds(options.unknownAppTimeout)
        let worker = SyncWorker(topics: configuration.kafka.topics, engine: engine, producer: producer, options: workerOptions, logger: logger)
        let stage = worker.makeStage(kafka: kafka)
        logger.info("Worker configured", metadata: ["cluster": "\(cluster ?? "(default)")", "apps": "\(own.apps.count)", "topic": "\(worker.requestsTopic)"])
        // The prefetcher is a hint: its end must not stop the worker, and (services stop in reverse
        // order) it stops after the stage and the worker have drained.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: producer),
            .init(service: AppControlReader(topic: configuration.kafka.topics.controls, engine: engine, kafka: kafka, logger: logger)),
            .init(service: worker.makePrefetcher(kafka: kafka), successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore),
            .init(service: stage), .init(service: worker),
        ]
        if let address = options.httpAddress {
            let metrics = engine.metrics
            let endpoint = try StatusEndpoint.make(
                address: address,
                name: "WORKER",
                readiness: {
                    // Syncs wait until the suspensions are known: say so rather than look idle.
                    engine.controls.isLoaded ? (worker.readiness ?? stage.readiness) : (false, "reading \(configuration.kafka.topics.controls) (app suspensions) before syncing")
                },
                metrics: { metrics.render() + stage.renderMetrics() },
                logger: logger
            )
            services.append(.init(service: endpoint))
        }
        return services
    }
}
