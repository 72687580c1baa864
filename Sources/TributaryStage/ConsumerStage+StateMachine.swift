import TributaryKafka

extension ConsumerStage {
    /// One message's way through a stage: handler, publication of its output (or of its dead
    /// letter), retries, and the verdict — commit, or leave uncommitted. Pure: the stage runs the
    /// actions it returns and reports back with the next event.
    struct MessageLifecycle: Equatable {
        /// A publication in progress: what is left to acknowledge, and how often it failed.
        struct Publication: Equatable {
            var records: [KafkaProducerMessage]
            var isDeadLetter: Bool
            var attempt = 1
            var failuresWhileStopping = 0
        }

        enum State: Equatable {
            case idle
            case handling(attempt: Int)
            case publishing(Publication)
            case waitingToHandle(attempt: Int)
            case waitingToPublish(Publication)
            case finished(committed: Bool)
        }

        enum Action: Equatable {
            /// Call the handler (attempt numbers start at 1).
            case handle(attempt: Int)
            /// Publish these records and wait for every acknowledgement.
            case publish([KafkaProducerMessage], isDeadLetter: Bool)
            /// Sleep, then call `wokeUp`.
            case sleep(Duration)
            /// Done: the message may be committed.
            case commit
            /// Leave the message uncommitted: the partition moved or the process stops.
            case leaveUncommitted
        }

        /// Failed publications tried again during a graceful stop before giving up (about 6 s of backoff).
        static let publishAttemptsWhileStopping = 5

        private(set) var state: State = .idle
        let message: KafkaConsumerMessage
        let deadLetterTopic: String

        init(message: KafkaConsumerMessage, deadLetterTopic: String) {
            self.message = message
            self.deadLetterTopic = deadLetterTopic
        }

        /// The message arrived for handling.
        mutating func start(isCurrent: Bool, stopping: Bool) -> Action {
            precondition(self.state == .idle, "a lifecycle starts once")
            guard isCurrent, !stopping else { return self.finish(committed: false) }
            self.state = .handling(attempt: 1)
            return .handle(attempt: 1)
        }

        /// The handler returned.
        mutating func handled(_ outcome: ConsumerStageOutcome, isCurrent: Bool, stopping: Bool) -> Action {
            guard case .handling(let attempt) = self.state else { preconditionFailure("handled while \(self.state)") }
            switch outcome {
            case .done(let records):
                // Work that was done is reported even if the partition moved meanwhile; it is not committed then.
                if records.isEmpty { return self.finish(committed: isCurrent) }
                return self.publish(Publication(records: records, isDeadLetter: false))
            case .deadLetter(let reason, let others):
                guard isCurrent else { return self.finish(committed: false) }
                let letter = Self.deadLetter(for: self.message, reason: reason, topic: self.deadLetterTopic)
                return self.publish(Publication(records: [letter] + others, isDeadLetter: true))
            case .retry(let delay, _):
                guard isCurrent, !stopping else { return self.finish(committed: false) }
                self.state = .waitingToHandle(attempt: attempt + 1)
                return .sleep(delay)
            case .abandon:
                return self.finish(committed: false)
            }
        }

        /// A publication ended; `failed` are the records the broker did not acknowledge.
        mutating func published(failed: [KafkaProducerMessage], isCurrent: Bool, stopping: Bool) -> Action {
            guard case .publishing(var publication) = self.state else { preconditionFailure("published while \(self.state)") }
            if failed.isEmpty { return self.finish(committed: isCurrent) }
            // A dead letter matters only to the partition's owner (the next one writes its own);
            // results of finished work are published even after a revoke: the next owner may find
            // nothing left to do and report nothing.
            if publication.isDeadLetter && !isCurrent { return self.finish(committed: false) }
            if stopping {
                publication.failuresWhileStopping += 1
                if publication.failuresWhileStopping > Self.publishAttemptsWhileStopping { return self.finish(committed: false) }
            }
            let delay = Self.publishBackoff(attempt: publication.attempt)
            publication.records = failed
            publication.attempt += 1
            self.state = .waitingToPublish(publication)
            return .sleep(delay)
        }

        /// A sleep ended.
        mutating func wokeUp(isCurrent: Bool, stopping: Bool) -> Action {
            switch self.state {
            case .waitingToHandle(let attempt):
                guard isCurrent, !stopping else { return self.finish(committed: false) }
                self.state = .handling(attempt: attempt)
                return .handle(attempt: attempt)
            case .waitingToPublish(let publication):
                if publication.isDeadLetter && !isCurrent { return self.finish(committed: false) }
                self.state = .publishing(publication)
                return .publish(publication.records, isDeadLetter: publication.isDeadLetter)
            default:
                preconditionFailure("woke up while \(self.state)")
            }
        }

        /// Whether a sleep should end now: its wait is pointless once the partition moved (or,
        /// before a retry of the handler, once the process stops).
        func wakesEarly(isCurrent: Bool, stopping: Bool) -> Bool {
            switch self.state {
            case .waitingToHandle: !isCurrent || stopping
            case .waitingToPublish(let publication): publication.isDeadLetter && !isCurrent
            default: false
            }
        }

        /// Whether the message is held up by a dead letter the broker did not take.
        var isDeadLetterFailing: Bool {
            if case .waitingToPublish(let publication) = self.state { return publication.isDeadLetter }
            return false
        }

        private mutating func publish(_ publication: Publication) -> Action {
            self.state = .publishing(publication)
            return .publish(publication.records, isDeadLetter: publication.isDeadLetter)
        }

        private mutating func finish(committed: Bool) -> Action {
            self.state = .finished(committed: committed)
            return committed ? .commit : .leaveUncommitted
        }

        /// 200 ms, doubling, at most 5 s.
        static func publishBackoff(attempt: Int) -> Duration {
            min(.milliseconds(200) * (1 << min(max(attempt - 1, 0), 5)), .seconds(5))
        }

        /// The dead letter of `message`: the same key, value and headers (CloudEvent attributes
        /// included), plus the reason and where it came from.
        static func deadLetter(for message: KafkaConsumerMessage, reason: String, topic: String) -> KafkaProducerMessage {
            KafkaProducerMessage(
                topic: topic,
                key: message.key,
                value: message.value,
                headers: message.headers + [
                    KafkaHeader(key: "tributary_dlq_reason", value: reason),
                    KafkaHeader(key: "tributary_dlq_source", value: "\(message.topic)/\(message.partition)/\(message.offset)"),
                ]
            )
        }
    }

    /// The offsets of one partition under one assignment: which messages arrived and which are
    /// finished. The position that may be committed is the first message not finished, so a
    /// message handled out of order (apps of one partition run in parallel) or left uncommitted is
    /// never committed past.
    struct PartitionProgress: Equatable {
        let generation: UInt64
        /// Offsets in arrival (= offset) order from `head` on; offsets may have gaps (compaction).
        private var arrived: [Int64] = []
        private var head = 0
        private var finished: Set<Int64> = []
        /// The first message left uncommitted: nothing at or after it is committed under this assignment.
        private(set) var heldAt: Int64?

        init(generation: UInt64) {
            self.generation = generation
        }

        /// Messages arrived and not yet finished.
        var inFlight: Int { self.arrived.count - self.head - self.finished.count }

        mutating func arrived(_ offset: Int64) {
            precondition(self.arrived.last.map { $0 < offset } ?? true, "offsets arrive in order")
            self.arrived.append(offset)
        }

        /// Marks `offset` finished; returns the offset to commit (the next one to read) when the
        /// committable position moved.
        mutating func finished(_ offset: Int64) -> Int64? {
            self.finished.insert(offset)
            var moved: Int64?
            while self.head < self.arrived.count, self.finished.contains(self.arrived[self.head]) {
                let done = self.arrived[self.head]
                if let heldAt, done >= heldAt { break }
                self.finished.remove(done)
                self.head += 1
                moved = done + 1
            }
            if self.head > 1024 {
                self.arrived.removeFirst(self.head)
                self.head = 0
            }
            return moved
        }

        /// Marks `offset` left uncommitted.
        mutating func held(_ offset: Int64) {
            self.heldAt = min(self.heldAt ?? offset, offset)
        }
    }
}
