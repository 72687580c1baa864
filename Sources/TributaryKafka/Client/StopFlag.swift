import Synchronization

/// A one-way flag shared between a polling loop and the code that stops it.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)

    init() {}

    var isSet: Bool { self.value.load(ordering: .acquiring) }

    func set() { self.value.store(true, ordering: .releasing) }
}
