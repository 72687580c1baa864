import ArgumentParser
import Foundation
import Hummingbird
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
            services.append(.init(service: try Self.httpEndpoint(address: address, worker: worker, metrics: engine.metrics, logger: logger)))
        }
        return services
    }

    private static func httpEndpoint(address: String, worker: SyncWorker, metrics: WorkerMetrics, logger: Logger) throws -> some Service {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw ValidationError("--http-address must be host:port")
        }
        let host = String(address[..<colon])
        let router = Router()
        router.get("/healthz") { _, _ in "alive\n" }
        router.get("/readyz") { _, _ -> Response in
            let ready = worker.isReady
            return Response(
                status: ready ? .ok : .serviceUnavailable,
                body: .init(byteBuffer: ByteBuffer(string: ready ? "ready: partitions \(worker.assignedPartitions.map(\.description).joined(separator: ","))\n" : "joining the consumer group\n"))
            )
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in printLine("WORKER_HTTP=http://\(host):\(channel.localAddress?.port ?? port)") },
            logger: logger
        )
    }
}
