import Crypto
import Synchronization

/// Remembers deliveries the broker acknowledged, so a redelivery inside the window is answered
/// without publishing again.
///
/// A delivery is identified by provider, hook id and delivery id, bound to a fingerprint of its
/// signature — a forged request reusing a real delivery id does not match. Memory is bounded:
/// past `capacity` the oldest entries go first. Per process: replicas behind a load balancer each
/// keep their own (workers tolerate the rare duplicate that slips through).
final class DeliveryDeduplicator: Sendable {
    /// Provider, hook id, delivery id and fingerprint, kept as their SHA-256: 32 bytes inline
    /// instead of four strings (two of them on the heap), which at full capacity is the bulk of
    /// the listener's memory.
    struct Key: Hashable, Sendable {
        private let high: SIMD2<UInt64>
        private let low: SIMD2<UInt64>

        init(provider: String, hookID: String, deliveryID: String, fingerprint: String) {
            var hash = SHA256()
            for field in [provider, hookID, deliveryID, fingerprint] {
                hash.update(data: Array(field.utf8))
                hash.update(data: [0])  // a separator no field contains
            }
            let words = hash.finalize().withUnsafeBytes { bytes in (0..<4).map { bytes.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) } }
            self.high = SIMD2(words[0], words[1])
            self.low = SIMD2(words[2], words[3])
        }
    }

    enum Reservation: Equatable {
        /// First sighting: publish, then `confirm` or `release`.
        case reserved
        /// Acknowledged before, inside the window.
        case duplicate
        /// Another request with this key is being published right now.
        case inFlight
    }

    private struct State {
        enum Entry { case inFlight, published(expiry: ContinuousClock.Instant) }
        var entries: [Key: Entry] = [:]
        /// Published keys in confirmation order, for expiry and the capacity bound.
        var order: [(key: Key, expiry: ContinuousClock.Instant)] = []
        var head = 0
    }

    private let state = Mutex(State())
    private let window: Duration
    private let capacity: Int

    init(window: Duration, capacity: Int = 262_144) {
        self.window = window
        self.capacity = capacity
    }

    func reserve(_ key: Key, now: ContinuousClock.Instant = .now) -> Reservation {
        self.state.withLock { state in
            Self.expire(&state, now: now, capacity: self.capacity)
            switch state.entries[key] {
            case .inFlight:
                return .inFlight
            case .published(let expiry) where expiry > now:
                return .duplicate
            case .published, nil:
                state.entries[key] = .inFlight
                return .reserved
            }
        }
    }

    /// The broker acknowledged the delivery's events.
    func confirm(_ key: Key, now: ContinuousClock.Instant = .now) {
        self.state.withLock { state in
            let expiry = now + self.window
            state.entries[key] = .published(expiry: expiry)
            state.order.append((key, expiry))
        }
    }

    /// Publishing failed: a retry must be able to publish.
    func release(_ key: Key) {
        self.state.withLock { state in
            if case .inFlight = state.entries[key] { state.entries[key] = nil }
        }
    }

    var count: Int { self.state.withLock { $0.entries.count } }

    private static func expire(_ state: inout State, now: ContinuousClock.Instant, capacity: Int) {
        while state.head < state.order.count {
            let (key, expiry) = state.order[state.head]
            guard expiry <= now || state.order.count - state.head > capacity else { break }
            // Only drop the entry if it is still the one this order slot recorded.
            if case .published(let current) = state.entries[key], current == expiry { state.entries[key] = nil }
            state.head += 1
        }
        if state.head > 4096, state.head * 2 > state.order.count {
            state.order.removeFirst(state.head)
            state.head = 0
        }
    }
}
