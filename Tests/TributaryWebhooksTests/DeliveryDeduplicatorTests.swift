import Testing
@testable import TributaryWebhooks

@Suite("Delivery deduplication")
struct DeliveryDeduplicatorTests {
    static func key(_ delivery: String, fingerprint: String = "f") -> DeliveryDeduplicator.Key {
        .init(provider: "github", hookID: "1", deliveryID: delivery, fingerprint: fingerprint)
    }

    @Test func confirmedDeliveryIsADuplicateUntilTheWindowEnds() {
        let deduplicator = DeliveryDeduplicator(window: .seconds(60))
        let start = ContinuousClock.now
        #expect(deduplicator.reserve(Self.key("a"), now: start) == .reserved)
        #expect(deduplicator.reserve(Self.key("a"), now: start) == .inFlight)
        deduplicator.confirm(Self.key("a"), now: start)
        #expect(deduplicator.reserve(Self.key("a"), now: start + .seconds(59)) == .duplicate)
        #expect(deduplicator.reserve(Self.key("a", fingerprint: "other"), now: start + .seconds(59)) == .reserved)
        #expect(deduplicator.reserve(Self.key("a"), now: start + .seconds(61)) == .reserved)
    }

    @Test func releasedDeliveryCanBePublishedAgain() {
        let deduplicator = DeliveryDeduplicator(window: .seconds(60))
        #expect(deduplicator.reserve(Self.key("b")) == .reserved)
        deduplicator.release(Self.key("b"))
        #expect(deduplicator.reserve(Self.key("b")) == .reserved)
    }

    @Test func memoryIsBoundedByCapacity() {
        let deduplicator = DeliveryDeduplicator(window: .seconds(3600), capacity: 100)
        let now = ContinuousClock.now
        for index in 0..<1000 {
            _ = deduplicator.reserve(Self.key("d\(index)"), now: now)
            deduplicator.confirm(Self.key("d\(index)"), now: now)
        }
        _ = deduplicator.reserve(Self.key("last"), now: now)
        #expect(deduplicator.count <= 102)
        #expect(deduplicator.reserve(Self.key("d999"), now: now) == .duplicate)
        #expect(deduplicator.reserve(Self.key("d0"), now: now) == .reserved)
    }
}
