import ArgumentParser
import Foundation
import Logging
import TributaryCore
import TributaryKafka

/// Options every service command takes.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "The YAML configuration file.")
    var config: String?

    @Option(name: .long, help: "Kafka bootstrap list (host:port,...) or 'embedded'. Overrides KAFKA_BROKERS and the file.")
    var brokers: String?

    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    /// Sets up logging to standard error and returns the root logger.
    func bootstrapLogging(label: String) throws -> Logger {
        guard let level = Logger.Level(rawValue: self.logLevel) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        LoggingSystem.bootstrap { label in StandardErrorLogHandler(label: label, level: level) }
        let logger = Logger(label: label)
        logger.debug("Process started", metadata: ["allocator": "\(Allocator.description ?? "system malloc")"])
        return logger
    }

    /// The configuration file, or the defaults when none is given.
    func loadConfiguration() throws -> TributaryConfiguration {
        guard let path = self.config else { return TributaryConfiguration() }
        return try TributaryConfiguration.load(path: path)
    }

    /// The configuration file, which a consuming service must have: without it a worker or
    /// notifier would join its group, take partitions and commit messages it cannot handle.
    func loadRequiredConfiguration(for command: String) throws -> TributaryConfiguration {
        guard self.config != nil else {
            throw ValidationError("tributary \(command) needs --config FILE: it consumes messages it can only handle with the configuration that describes them")
        }
        return try self.loadConfiguration()
    }

    /// The cluster to use: `--brokers`, else `KAFKA_BROKERS`, else the file's `kafka.brokers`.
    func brokers(configuration: TributaryConfiguration) -> KafkaSettings.Brokers {
        if let flag = self.brokers { return KafkaSettings.Brokers(flag) }
        if let environment = ProcessInfo.processInfo.environment["KAFKA_BROKERS"], !environment.isEmpty {
            return KafkaSettings.Brokers(environment)
        }
        return configuration.kafka.brokers
    }
}

/// Writes a line to standard output and flushes it at once, so scripts reading a pipe see it.
func printLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
