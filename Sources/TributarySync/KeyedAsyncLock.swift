import Synchronization

/// Mutual exclusion per key, for async code: one app never syncs twice at once.
final class KeyedAsyncLock: Sendable {
    private struct State {
        var held: Set<String> = []
        var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    }

    private let state = Mutex(State())

    func withLock<Result: Sendable>(_ key: String, _ body: () async throws -> Result) async rethrows -> Result {
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
final class AsyncSemaphore: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(limit: Int) {
        self.state = Mutex(State(available: max(limit, 1)))
    }

    func withPermit<Result: Sendable>(_ body: () async throws -> Result) async rethrows -> Result {
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
        defer {
            let next = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                if state.waiters.isEmpty {
                    state.available += 1
                    return nil
                }
                return state.waiters.removeFirst()
            }
            next?.resume()
        }
        return try await body()
    }
}
