import Logging
import ServiceLifecycle
import TributaryKafka

extension KafkaProducer {
    /// Publishes records that no consumed message stands behind (a timer's output), each retried
    /// with the stage's backoff until the broker acknowledges it — or, once a graceful shutdown
    /// has begun, until `stopGrace` has passed; once the task is cancelled, no longer.
    ///
    /// - Returns: whether every record was acknowledged.
    @discardableResult
    public func deliverUntilAcknowledged(_ records: [KafkaProducerMessage], logger: Logger, stopGrace: Duration = .seconds(10)) async -> Bool {
        var stopSeen: ContinuousClock.Instant?
        for record in records {
            var attempt = 1
            while true {
                do {
                    _ = try await self.deliver(record)
                    break
                } catch {
                    logger.warning("Record not acknowledged", metadata: ["topic": "\(record.topic)", "error": "\(error)"])
                    // Cancelled, the backoff's sleep returns at once: give up rather than spin.
                    if Task.isCancelled { return false }
                    if Task.isShuttingDownGracefully {
                        let seen = stopSeen ?? .now
                        stopSeen = seen
                        if ContinuousClock.now - seen > stopGrace { return false }
                    }
                    try? await Task.sleep(for: ConsumerStage.MessageLifecycle.publishBackoff(attempt: attempt))
                    attempt += 1
                }
            }
        }
        return true
    }
}
