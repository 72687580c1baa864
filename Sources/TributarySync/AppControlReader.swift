import Foundation
import Logging
import ServiceLifecycle
import TributaryCore
import TributaryKafka
import TributaryStage

/// Reads all of `<prefix>.controls` into the engine's `AppControls` — to the end it has at start
/// (then syncs may run), then as it grows, so `tributary suspend` reaches every worker within a poll.
/// Every worker reads every partition: an app's control must be known to whichever worker owns it
/// after a rebalance.
public final class AppControlReader: Service, Sendable {
    private let follower: TopicFollower

    public init(topic: String, engine: SyncEngine, kafka: KafkaConfiguration, logger: Logger) {
        let controls = engine.controls
        self.follower = TopicFollower(
            topics: [topic], kafka: kafka, name: "controls-reader", logger: logger,
            handle: { message in
                guard let value = message.value else {
                    if let app = message.keyString, controls.remove(app: app) {
                        logger.info("App resumed (its control was deleted)", metadata: ["app": "\(app)"])
                        engine.controlChanged(app)
                    }
                    return
                }
                do {
                    let control = try TributaryJSON.decode(AppControl.self, from: Data(value))
                    if controls.apply(control) {
                        logger.info(control.suspended ? "App suspended" : "App resumed", metadata: ["app": "\(control.app)", "by": "\(control.by ?? "")"])
                        engine.controlChanged(control.app)
                    }
                } catch {
                    logger.warning("Skipping an unreadable app control", metadata: ["offset": "\(message.partition)/\(message.offset)", "error": "\(error)"])
                }
            },
            caughtUp: {
                controls.markLoaded()
                logger.debug("App controls read", metadata: ["topic": "\(topic)"])
            }
        )
    }

    public func run() async throws {
        try await self.follower.run()
    }
}
