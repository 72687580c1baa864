import Testing
import TributaryKafka
@testable import TributaryStage

/// Every transition of a message's lifecycle and of a partition's committable position, without a broker.
@Suite("Consumer stage state machine")
struct ConsumerStageStateMachineTests {
    typealias Lifecycle = ConsumerStage.MessageLifecycle

    let message = KafkaConsumerMessage(
        topic: "t.requests", partition: KafkaPartition(2), offset: KafkaOffset(41), key: Array("shop".utf8), value: Array("{}".utf8),
        headers: [KafkaHeader(key: "ce_id", value: "abc")], timestamp: nil
    )
    let output = [KafkaProducerMessage(topic: "t.sync", key: "shop", value: Array("done".utf8))]

    func lifecycle() -> Lifecycle { Lifecycle(message: self.message, deadLetterTopic: "t.dlq") }

    @Test func aHandledMessageIsCommittedOnlyAfterItsOutputIsAcknowledged() {
        var lifecycle = self.lifecycle()
        #expect(lifecycle.start(isCurrent: true, stopping: false) == .handle(attempt: 1))
        #expect(lifecycle.handled(.done(self.output), isCurrent: true, stopping: false) == .publish(self.output, isDeadLetter: false))
        #expect(lifecycle.published(failed: self.output, isCurrent: true, stopping: false) == .sleep(.milliseconds(200)))
        #expect(lifecycle.wokeUp(isCurrent: true, stopping: false) == .publish(self.output, isDeadLetter: false))
        #expect(lifecycle.published(failed: self.output, isCurrent: true, stopping: false) == .sleep(.milliseconds(400)))
        #expect(lifecycle.wokeUp(isCurrent: true, stopping: false) == .publish(self.output, isDeadLetter: false))
        #expect(lifecycle.published(failed: [], isCurrent: true, stopping: false) == .commit)
    }

    @Test func aMessageWithNothingToPublishIsCommittedAtOnce() {
        var lifecycle = self.lifecycle()
        _ = lifecycle.start(isCurrent: true, stopping: false)
        #expect(lifecycle.handled(.done([]), isCurrent: true, stopping: false) == .commit)
    }

    @Test func aMessageOfARevokedPartitionOrAStoppingProcessIsNotStarted() {
        var revoked = self.lifecycle()
        #expect(revoked.start(isCurrent: false, stopping: false) == .leaveUncommitted)
        var stopping = self.lifecycle()
        #expect(stopping.start(isCurrent: true, stopping: true) == .leaveUncommitted)
    }

    @Test func finishedWorkIsPublishedAfterARevokeButNotCommitted() {
        var lifecycle = self.lifecycle()
        _ = lifecycle.start(isCurrent: true, stopping: false)
        #expect(lifecycle.handled(.done(self.output), isCurrent: false, stopping: false) == .publish(self.output, isDeadLetter: false))
        // Still retried after the revoke: the next owner may find nothing left to do and report nothing.
        #expect(lifecycle.published(failed: self.output, isCurrent: false, stopping: false) == .sleep(.milliseconds(200)))
        #expect(!lifecycle.wakesEarly(isCurrent: false, stopping: false))
        #expect(lifecycle.wokeUp(isCurrent: false, stopping: false) == .publish(self.output, isDeadLetter: false))
        #expect(lifecycle.published(failed: [], isCurrent: false, stopping: false) == .leaveUncommitted)
    }

    @Test func nothingDoneAndNothingToPublishAfterARevokeIsLeftUncommitted() {
        var lifecycle = self.lifecycle()
        _ = lifecycle.start(isCurrent: true, stopping: false)
        #expect(lifecycle.handled(.done([]), isCurrent: false, stopping: false) == .leaveUncommitted)
    }

    @Test func aRetryCallsTheHandlerAgainWithTheNextAttempt() {
        var lifecycle = self.lifecycle()
        _ = lifecycle.start(isCurrent: true, stopping: false)
        #expect(lifecycle.handled(.retry(after: .seconds(3), reason: "git away"), isCurrent: true, stopping: false) == .sleep(.seconds(3)))
        #expect(!lifecycle.wakesEarly(isCurrent: true, stopping: false))
        #expect(lifecycle.wokeUp(isCurrent: true, stopping: false) == .handle(attempt: 2))
        #expect(lifecycle.handled(.retry(after: .seconds(1), reason: "git away"), isCurrent: true, stopping: false) == .sleep(.seconds(1)))
        #expect(lifecycle.wokeUp(isCurrent: true, stopping: false) == .handle(attempt: 3))
        #expect(lifecycle.handled(.done([]), isCurrent: true, stopping: false) == .commit)
    }

    @Test func aRetryEndsUncommittedWhenThePartitionMovesOrTheProcessStops() {
        var moved = self.lifecycle()
        _ = moved.start(isCurrent: true, stopping: false)
        _ = moved.handled(.retry(after: .seconds(60), reason: "x"), isCurrent: true, stopping: false)
        #expect(moved.wakesEarly(isCurrent: false, stopping: false))
        #expect(moved.wokeUp(isCurrent: false, stopping: false) == .leaveUncommitted)

        var stopping = self.lifecycle()
        _ = stopping.start(isCurrent: true, stopping: false)
        _ = stopping.handled(.retry(after: .seconds(60), reason: "x"), isCurrent: true, stopping: false)
        #expect(stopping.wakesEarly(isCurrent: true, stopping: true))
        #expect(stopping.wokeUp(isCurrent: true, stopping: true) == .leaveUncommitted)

        var revokedBeforeRetry = self.lifecycle()
        _ = revokedBeforeRetry.start(isCurrent: true, stopping: false)
        #expect(revokedBeforeRetry.handled(.retry(after: .seconds(1), reason: "x"), isCurrent: false, stopping: false) == .leaveUncommitted)
    }

    @Test func aDeadLetterKeepsTheRecordAndIsRetriedUntilAcknowledgedBeforeTheCommit() {
        var lifecycle = self.lifecycle()
        _ = lifecycle.start(isCurrent: true, stopping: false)
        let ledger = KafkaProducerMessage(topic: "t.delivered", key: "k", value: [])
        let action = lifecycle.handled(.deadLetter(reason: "app shop is unknown", alsoPublishing: [ledger]), isCurrent: true, stopping: false)
        guard case .publish(let records, isDeadLetter: true) = action else {
            Issue.record("expected a dead-letter publication, got \(action)")
            return
        }
        #expect(records.count == 2 && records[1] == ledger)
        let letter = records[0]
        #expect(letter.topic == "t.dlq" && letter.key == self.message.key && letter.value == self.message.value)
        #expect(letter.headers.first(named: "ce_id") == "abc")
        #expect(letter.headers.first(named: "tributary_dlq_reason") == "app shop is unknown")
        #expect(letter.headers.first(named: "tributary_dlq_source") == "t.requests/2/41")

        // The dead-letter topic does not take it: retried with backoff, never committed meanwhile.
        for attempt in 1...8 {
            #expect(lifecycle.published(failed: [letter], isCurrent: true, stopping: false) == .sleep(Lifecycle.publishBackoff(attempt: attempt)))
            #expect(lifecycle.isDeadLetterFailing)
            #expect(lifecycle.wokeUp(isCurrent: true, stopping: false) == .publish([letter], isDeadLetter: true))
        }
        #expect(Lifecycle.publishBackoff(attempt: 8) == .seconds(5))
        #expect(lifecycle.published(failed: [], isCurrent: true, stopping: false) == .commit)
    }

    @Test func anUnwrittenDeadLetterIsLeftToTheNextOwnerOnceThePartitionMoves() {
        var lifecycle = self.lifecycle()
        _ = lifecycle.start(isCurrent: true, stopping: false)
        let action = lifecycle.handled(.deadLetter(reason: "bad"), isCurrent: true, stopping: false)
        guard case .publish(let records, _) = action else { return }
        #expect(lifecycle.published(failed: records, isCurrent: true, stopping: false) == .sleep(.milliseconds(200)))
        #expect(lifecycle.wakesEarly(isCurrent: false, stopping: false))
        #expect(lifecycle.wokeUp(isCurrent: false, stopping: false) == .leaveUncommitted)

        var late = self.lifecycle()
        _ = late.start(isCurrent: true, stopping: false)
        #expect(late.handled(.deadLetter(reason: "bad"), isCurrent: false, stopping: false) == .leaveUncommitted)
    }

    @Test func aStopGivesUpOnUnacknowledgedOutputAfterAFewAttempts() {
        var lifecycle = self.lifecycle()
        _ = lifecycle.start(isCurrent: true, stopping: false)
        _ = lifecycle.handled(.done(self.output), isCurrent: true, stopping: true)
        for _ in 1...Lifecycle.publishAttemptsWhileStopping {
            guard case .sleep = lifecycle.published(failed: self.output, isCurrent: true, stopping: true) else {
                Issue.record("expected a retry")
                return
            }
            _ = lifecycle.wokeUp(isCurrent: true, stopping: true)
        }
        #expect(lifecycle.published(failed: self.output, isCurrent: true, stopping: true) == .leaveUncommitted)
    }

    @Test func anAbandonedMessageIsLeftUncommitted() {
        var lifecycle = self.lifecycle()
        _ = lifecycle.start(isCurrent: true, stopping: false)
        #expect(lifecycle.handled(.abandon, isCurrent: true, stopping: false) == .leaveUncommitted)
    }

    // MARK: Partition progress

    @Test func thePositionMovesOnlyOverAnUnbrokenRunOfFinishedMessages() {
        var progress = ConsumerStage.PartitionProgress(generation: 7)
        for offset in [10, 11, 12, 13] { progress.arrived(Int64(offset)) }
        #expect(progress.finished(12) == nil)  // another app, finished first
        #expect(progress.finished(11) == nil)
        #expect(progress.inFlight == 2)
        #expect(progress.finished(10) == 13)  // 10, 11 and 12 are done
        #expect(progress.finished(13) == 14)
        #expect(progress.inFlight == 0)
    }

    @Test func offsetsWithGapsStillAdvance() {
        var progress = ConsumerStage.PartitionProgress(generation: 1)
        progress.arrived(5)
        progress.arrived(9)  // 6–8 compacted away
        #expect(progress.finished(9) == nil)
        #expect(progress.finished(5) == 10)
    }

    @Test func nothingIsCommittedAtOrPastAMessageLeftUncommitted() {
        var progress = ConsumerStage.PartitionProgress(generation: 1)
        for offset in 20...23 { progress.arrived(Int64(offset)) }
        #expect(progress.finished(20) == 21)
        progress.held(21)
        #expect(progress.finished(22) == nil)
        #expect(progress.finished(23) == nil)
        #expect(progress.heldAt == 21)
    }

    @Test func theOrderingKeySeparatesPartitionsAndKeys() {
        var other = self.message
        other.partition = KafkaPartition(3)
        #expect(ConsumerStage.orderingKey(of: self.message) != ConsumerStage.orderingKey(of: other))
        var otherKey = self.message
        otherKey.key = Array("cart".utf8)
        #expect(ConsumerStage.orderingKey(of: self.message) != ConsumerStage.orderingKey(of: otherKey))
    }
}
