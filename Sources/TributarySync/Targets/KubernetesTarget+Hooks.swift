import TributaryCore
import TributaryKubernetes

extension KubernetesTarget {
    /// How long a phase's hooks may run when the app sets no `waitForHealth`.
    static let defaultHookTimeout: Duration = .seconds(600)

    /// Runs the hooks of `phase`, wave by wave: each wave's hooks are applied together (a previous
    /// object deleted first under `BeforeHookCreation`) and waited for until they finish, then
    /// deleted as their policy says.
    ///
    /// - Returns: how many hooks ran.
    /// - Throws: `SyncError` naming the first hook that failed or did not finish by `deadline`.
    @discardableResult
    func runHooks(_ hooks: [SyncHook], phase: SyncHook.Phase, deadline: ContinuousClock.Instant) async throws -> Int {
        var count = 0
        for wave in KubernetesPlan.hookWaves(hooks, phase: phase) {
            _ = try await self.concurrently(wave) { hook in
                if hook.deletePolicies.contains(.beforeHookCreation) { try await self.deleteHook(hook, waitUntilGone: deadline) }
                return try await self.applyHook(hook)
            }
            let outcomes = try await self.concurrently(wave) { hook in (hook, try await self.waitForHook(hook, phase: phase, deadline: deadline)) }
            var failure: SyncError?
            for (hook, status) in outcomes {
                switch status {
                case .succeeded:
                    if hook.deletePolicies.contains(.hookSucceeded) { try await self.deleteHook(hook, waitUntilGone: nil) }
                case .failed(let message):
                    if hook.deletePolicies.contains(.hookFailed) { try? await self.deleteHook(hook, waitUntilGone: nil) }
                    failure = failure ?? SyncError(code: .target, message: "\(phase.rawValue) hook \(hook.object.reference) failed: \(message) (\(hook.object.source))")
                case .running:
                    failure = failure ?? SyncError(code: .target, message: "\(phase.rawValue) hook \(hook.object.reference) did not finish in time (\(hook.object.source))")
                }
            }
            if let failure { throw failure }
            count += wave.count
        }
        return count
    }

    private func applyHook(_ hook: SyncHook) async throws {
        do {
            _ = try await self.client.apply(hook.object.object, fieldManager: KubernetesPlan.fieldManager, force: self.options.force)
        } catch let error as KubernetesError {
            throw Self.failure(error, doing: "apply", hook.object.reference, source: hook.object.source)
        }
    }

    /// Polls until the hook finishes or `deadline` passes (then `.running`).
    private func waitForHook(_ hook: SyncHook, phase: SyncHook.Phase, deadline: ContinuousClock.Instant) async throws -> HookStatus {
        while true {
            let status = KubernetesPlan.hookStatus(try await self.get(hook.object.reference, source: "\(phase.rawValue) hook"))
            guard status == .running, ContinuousClock.now < deadline else { return status }
            try await Task.sleep(for: self.healthPollInterval)
        }
    }

    /// Deletes the hook's object (its pods with it, in the background); with `waitUntilGone`,
    /// until the API no longer has it, so the next apply creates it afresh.
    private func deleteHook(_ hook: SyncHook, waitUntilGone deadline: ContinuousClock.Instant?) async throws {
        let reference = hook.object.reference
        guard let live = try await self.get(reference, source: "hook delete policy") else { return }
        if let owner = KubernetesPlan.trackingApp(of: live), owner != self.app {
            throw SyncError(code: .refused, message: "\(hook.object.source): hook \(reference) exists and belongs to app \(owner); it is not replaced")
        }
        do {
            guard try await self.client.delete(reference, propagation: "Background", uid: live[path: "metadata.uid"]?.string) else { return }
        } catch let error as KubernetesError where error.code == .conflict {
            return  // replaced meanwhile: the uid precondition kept the new one
        } catch let error as KubernetesError {
            throw Self.failure(error, doing: "delete", reference, source: "hook delete policy")
        }
        guard let deadline else { return }
        while try await self.get(reference, source: "hook delete policy") != nil {
            guard ContinuousClock.now < deadline else {
                throw SyncError(code: .target, message: "the previous \(reference) of a hook is still being deleted; it cannot be created again yet")
            }
            try await Task.sleep(for: self.healthPollInterval)
        }
    }
}

