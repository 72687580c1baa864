import Dispatch

extension DispatchQueue {
    /// Runs a blocking librdkafka call on this queue and resumes the caller with its result, keeping
    /// the cooperative thread pool free.
    func run<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            self.async {
                continuation.resume(with: Swift.Result { try body() })
            }
        }
    }

    /// The non-throwing variant of `run(_:)`.
    func run<Result: Sendable>(_ body: @escaping @Sendable () -> Result) async -> Result {
        await withCheckedContinuation { continuation in
            self.async {
                continuation.resume(returning: body())
            }
        }
    }
}
