import Synchronization

/// A one-way flag shared between a polling loop and the code that stops it.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)

    init() {}

    var isSet: Bool { self.value.load(ordering: .acquiring) }

    func set() { self.value.store(true, ordering: .releasing) }

    /// Sets the flag; returns whether this call was the one that set it.
    func setIfUnset() -> Bool {
        self.value.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }
}
