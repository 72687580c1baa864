import ArgumentParser
import Foundation
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding

/// `tributary suspend` and `resume`: an app's automated sync stopped or started again for every
/// worker, through the compacted `<prefix>.controls` topic (Flux's `suspend`).
struct SuspendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suspend",
        abstract: "Stop an app's automated sync and self-heal on every worker, durably, until `tributary resume`.",
        discussion: "A suspended app is still compared (out-of-sync events), and `tributary sync` still applies it by hand. Kept in <prefix>.controls, so restarted and added workers honour it."
    )

    @OptionGroup var control: AppControlOptions

    func run() async throws {
        try await self.control.publish(suspended: true, command: "suspend")
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Start a suspended app's automated sync again; its owning worker reconciles it at once."
    )

    @OptionGroup var control: AppControlOptions

    func run() async throws {
        try await self.control.publish(suspended: false, command: "resume")
    }
}

struct AppControlOptions: ParsableArguments {
    @OptionGroup var options: CommonOptions

    @Argument(help: "The app.")
    var app: String

    @Option(name: .long, help: "Why, recorded with the control.")
    var reason: String?

    @Option(name: .long, help: "Who, recorded with the control (default the user running the command).")
    var by: String?

    func publish(suspended: Bool, command: String) async throws {
        let logger = try self.options.bootstrapLogging(label: "tributary.\(command)")
        let configuration = try self.options.loadRequiredConfiguration(for: command)
        guard configuration.app(named: self.app) != nil else {
            throw Failure(message: "no app named \(self.app) in \(configuration.file)")
        }
        guard case .list(let bootstrap) = self.options.brokers(configuration: configuration) else {
            throw ValidationError("\(command) needs the running cluster the workers use: pass --brokers host:port or set KAFKA_BROKERS")
        }
        let kafka = try configuration.kafka.clientConfiguration(bootstrapServers: bootstrap)
        let topic = configuration.kafka.topics.controls
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger)
        guard let partitionCount = try await producer.partitionCounts(timeout: .seconds(10))[topic] else {
            await producer.shutdown()
            throw Failure(message: "topic \(topic) does not exist: create it (compacted) beside the other Tributary topics")
        }
        let control = AppControl(app: self.app, suspended: suspended, by: self.by ?? ProcessInfo.processInfo.userName, reason: self.reason)
        let record = try control.kafkaMessage(topic: topic, partitionCount: partitionCount)
        do {
            _ = try await producer.deliver(record)
        } catch {
            await producer.shutdown()
            throw Failure(message: "publishing to \(topic) failed: \(error)")
        }
        await producer.shutdown()
        printLine("\(self.app) \(suspended ? "suspended" : "resumed")\(self.reason.map { ": \($0)" } ?? "") (recorded in \(topic))")
    }
}
