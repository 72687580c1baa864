import Synchronization

/// Mutual exclusion per key, for async code: one app never syncs twice at once.
public final class KeyedAsyncLock: Sendable {
    private struct State {
        var held: Set<String> = []
        var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func withLock<Result: Sendable>(_ key: String, _ body: () async throws -> Result) async rethrows -> Result {
        await self.acquire(key)
        defer { self.release(key) }
        return try await body()
    }

    private func acquire(_ key: String) async {
        await withCheckedContinuation { continuation in
            let acquired = self.state.withLock { state -> Bool in
                if state.held.insert(key).inserted { return true }
                state.waiters[key, default: []].append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    private func release(_ key: String) {
        // Hand the lock straight to the next waiter, so it cannot be overtaken.
        let next = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard var waiting = state.waiters[key], !waiting.isEmpty else {
                state.held.remove(key)
                state.waiters[key] = nil
                return nil
            }
            let next = waiting.removeFirst()
            state.waiters[key] = waiting.isEmpty ? nil : waiting
            return next
        }
        next?.resume()
    }
}

/// At most `limit` bodies run at once; the rest wait in order.
public final class AsyncSemaphore: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    public init(limit: Int) {
        self.state = Mutex(State(available: max(limit, 1)))
    }

    public func withPermit<Result: Sendable>(_ body: () async throws -> Result) async rethrows -> Result {
        await self.acquire()
        defer { self.release() }
        return try await body()
    }

    /// Waits for a permit; give it back with `release()`.
    public func acquire() async {
        await withCheckedContinuation { continuation in
            let acquired = self.state.withLock { state -> Bool in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    /// Returns a permit taken with `acquire()`: the longest waiter gets it.
    public func release() {
        let next = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
