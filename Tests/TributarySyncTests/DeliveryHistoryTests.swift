import Foundation
import Testing
import TributaryCore
@testable import TributaryPlanner

@Suite("Delivery history (cross-replica redeliveries)")
struct DeliveryHistoryTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func change(_ delivery: String, ref: String = "refs/heads/main", after: String = "a1", hook: String? = "7", at seconds: TimeInterval = 0) -> ChangeEvent {
        ChangeEvent(
            provider: "github", deliveryID: delivery, hookID: hook,
            repository: .init(key: "github.com/acme/app", cloneURLs: []),
            ref: ref, before: String(repeating: "0", count: 40), after: after,
            receivedAt: self.start.addingTimeInterval(seconds)
        )
    }

    @Test func aLaterCopyOfADeliveryIsARedeliveryOfTheFirst() {
        var history = DeliveryHistory(window: 3600)
        #expect(history.observe(self.change("d1"), at: 10) == nil)
        #expect(history.observe(self.change("d2"), at: 11) == nil)
        #expect(history.observe(self.change("d1", at: 5), at: 12)?.offset == 10)
        // Clocks of two replicas differ: a copy stamped before the first is still one.
        #expect(history.observe(self.change("d2", at: -5), at: 13)?.offset == 11)
    }

    @Test func theSameMessageAgainIsNotItsOwnDuplicate() {
        var history = DeliveryHistory(window: 3600)
        #expect(history.observe(self.change("d1"), at: 10) == nil)
        #expect(history.observe(self.change("d1"), at: 10) == nil, "a retried message")
        // Read back after a later copy was handled: the lowest offset is kept.
        #expect(history.observe(self.change("d3"), at: 20) == nil)
        #expect(history.observe(self.change("d3"), at: 15) == nil)
        #expect(history.observe(self.change("d3"), at: 20)?.offset == 15)
    }

    @Test func otherRefsHooksContentAndProvidersAreOtherDeliveries() {
        var history = DeliveryHistory(window: 3600)
        #expect(history.observe(self.change("d1"), at: 1) == nil)
        #expect(history.observe(self.change("d1", ref: "refs/heads/dev"), at: 2) == nil, "one delivery, several refs")
        #expect(history.observe(self.change("d1", after: "b2"), at: 3) == nil, "a reused id with other content")
        #expect(history.observe(self.change("d1", hook: "8"), at: 4) == nil, "another hook")
        var gitlab = self.change("d1")
        gitlab.provider = "gitlab"
        #expect(history.observe(gitlab, at: 5) == nil)
    }

    @Test func aCopyOutsideTheWindowIsPlannedAgain() {
        var history = DeliveryHistory(window: 60)
        #expect(history.observe(self.change("d1"), at: 1) == nil)
        #expect(history.observe(self.change("d1", at: 61), at: 2) == nil)
        // It replaced the old sighting: a copy within the window of the second is dropped.
        #expect(history.observe(self.change("d1", at: 100), at: 3)?.offset == 2)
    }

    @Test func readBackRecordsAreFactsMergedWithWhatWasSeenMeanwhile() {
        var history = DeliveryHistory(window: 3600)
        #expect(!history.isLoaded)
        // A message handled before the read-back finished, at a higher offset.
        #expect(history.observe(self.change("d1"), at: 40) == nil)
        history.loaded([(self.change("d1"), 12), (self.change("d2"), 13)])
        #expect(history.isLoaded)
        #expect(history.sightings[.init(self.change("d1"))]?.offset == 12)
        #expect(history.observe(self.change("d2"), at: 41)?.offset == 13)
    }

    @Test func memoryIsBoundedByDroppingTheOldest() {
        var history = DeliveryHistory(window: 1_000_000, capacity: 100)
        for index in 0..<250 { _ = history.observe(self.change("d\(index)", at: TimeInterval(index)), at: Int64(index)) }
        #expect(history.sightings.count <= 100)
        #expect(history.sightings[.init(self.change("d249", at: 249))] != nil, "the newest stays")
        #expect(history.sightings[.init(self.change("d0"))] == nil)
    }
}
