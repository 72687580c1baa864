import ArgumentParser
import Foundation
import Logging
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding

/// `tributary sync`: a sync by hand, through Kafka — the worker that owns the app performs it,
/// however many workers there are — and its sync event printed.
struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Ask the app's owning worker to sync it now (trigger manual), wait for the sync event and print it.",
        discussion: "Works for manual apps too. Exit status: 0 when the sync succeeded (or, with --dry-run, compared), 1 when it failed, 2 when no event came in time."
    )

    @OptionGroup var options: CommonOptions

    @Option(name: .long, help: "The app to sync.")
    var app: String

    @Option(name: .long, help: "A branch, tag or SHA; default the app's targetRevision.")
    var revision: String?

    @Flag(name: .long, help: "Delete owned resources no longer rendered (default: the app's automated.prune).")
    var prune = false

    @Flag(name: .long, help: "Only compare: the event lists what a sync would create, update and delete; nothing is applied.")
    var dryRun = false

    @Option(name: .long, help: "Seconds to wait for the sync event.")
    var timeout: Int = 300

    func run() async throws {
        let logger = try self.options.bootstrapLogging(label: "tributary.sync")
        let configuration = try self.options.loadRequiredConfiguration(for: "sync")
        guard let app = configuration.app(named: self.app) else {
            throw Failure(message: "no app named \(self.app) in \(configuration.file)")
        }
        if let revision = self.revision, revision != app.source.targetRevision, app.syncPolicy.automated != nil, !self.dryRun {
            // As Argo CD refuses it: the next automated sync would put targetRevision back at once.
            throw Failure(message: "\(app.name) syncs automatically to \(app.source.targetRevision); a sync to \(revision) would be undone at its next reconcile. Turn automated off for it, or change targetRevision")
        }
        guard case .list(let bootstrap) = self.options.brokers(configuration: configuration) else {
            throw ValidationError("sync needs the running cluster the workers use: pass --brokers host:port or set KAFKA_BROKERS")
        }
        let kafka = try configuration.kafka.clientConfiguration(bootstrapServers: bootstrap)
        let topics = configuration.kafka.topics
        let id = UUID().uuidString.lowercased()

        // Read the sync topic first, so the answer cannot be missed; it is matched by the request's id.
        var consumerConfiguration = KafkaConsumerConfiguration(kafka: kafka, groupID: "tributary-sync-\(id)")
        consumerConfiguration.sessionTimeout = .seconds(6)
        consumerConfiguration.heartbeatInterval = .milliseconds(500)
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        try consumer.subscribe(topics: [topics.sync])

        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger)
        let topic = topics.requests(cluster: app.cluster)
        guard let partitionCount = try await producer.partitionCounts(timeout: .seconds(10))[topic] else {
            throw ValidationError("topic \(topic) does not exist: are the workers' broker and topics up?")
        }
        let request = SyncRequest.manual(for: app, revision: self.revision, prune: self.prune, dryRun: self.dryRun, partitionCount: partitionCount, id: id)
        let event = try CloudEvent(id: id, source: "tributary/cli/\(ProcessInfo.processInfo.hostName)", type: SyncRequest.eventType, subject: app.name, payload: request)
        var record = event.kafkaMessage(topic: topic, key: app.name)
        record.partition = KafkaPartitioner.partition(forKey: app.name, partitionCount: partitionCount)
        _ = try await producer.deliver(record)
        await producer.shutdown()

        let deadline = ContinuousClock.now + .seconds(self.timeout)
        let answer = Task { () -> SyncEvent? in
            for try await message in consumer.messages {
                guard let event = try? CloudEvent(kafkaMessage: message), event.type.hasPrefix("dev.tributary.sync."),
                      let sync = try? event.decodePayload(as: SyncEvent.self), sync.changeID == id
                else { continue }
                return sync
            }
            return nil
        }
        let timer = Task {
            try await Task.sleep(until: deadline)
            answer.cancel()
        }
        let result: SyncEvent?
        do {
            result = try await answer.value
        } catch is CancellationError {
            result = nil
        } catch {
            timer.cancel()
            await consumer.close()
            throw Failure(message: "reading \(topics.sync) failed: \(error)")
        }
        timer.cancel()
        await consumer.close()
        guard let result else {
            FileHandle.standardError.write(Data("error: no sync event for \(app.name) within \(self.timeout) s (request \(id) is on \(topic))\n".utf8))
            throw ExitCode(2)
        }
        printLine(Self.describe(result))
        if result.phase == .failed { throw ExitCode(1) }
    }

    /// `shop succeeded at 1a2b3c4d5e6f (manual): created 1, updated 2, pruned 0`, then the message.
    static func describe(_ event: SyncEvent) -> String {
        var line = "\(event.app) \(event.phase.rawValue) at \(event.revision.prefix(12)) (\(event.trigger)) on \(event.destination)"
        if let resources = event.resources {
            line += ": created \(resources.created), updated \(resources.updated), unchanged \(resources.unchanged), pruned \(resources.pruned)"
        }
        if let health = event.health { line += "; health \(health.status)" }
        if let difference = event.difference, !difference.isEmpty { line += "\n  would " + difference.summary }
        if let message = event.message, event.difference == nil { line += "\n  \(message)" }
        return line
    }
}
