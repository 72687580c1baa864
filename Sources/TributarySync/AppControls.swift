import Foundation
import Synchronization
import TributaryCore

/// The `AppControl` in force for each app, as read from `<prefix>.controls`. Until the topic has
/// been read to its end once, nobody can tell whether an app is suspended: syncs wait for that.
public final class AppControls: Sendable {
    private struct State {
        var controls: [String: AppControl] = [:]
        var loaded: Bool
        var waiting: [UUID: CheckedContinuation<Void, Never>] = [:]
    }

    private let state: Mutex<State>

    /// - Parameter loaded: true when there is no topic to read (tests, `tributary diff`).
    public init(loaded: Bool) {
        self.state = Mutex(State(loaded: loaded))
    }

    /// Records a control read from the topic: the record read last for an app is in force (the
    /// topic's order, not the writers' clocks, decides).
    ///
    /// - Returns: whether the app's suspension changed.
    @discardableResult
    public func apply(_ control: AppControl) -> Bool {
        self.state.withLock { state in
            let before = state.controls.updateValue(control, forKey: control.app)
            return (before?.suspended ?? false) != control.suspended
        }
    }

    /// A tombstone for `app`: no control is in force any more.
    ///
    /// - Returns: whether the app's suspension changed.
    @discardableResult
    public func remove(app: String) -> Bool {
        self.state.withLock { $0.controls.removeValue(forKey: app)?.suspended == true }
    }

    /// The topic has been read to the end it had when reading began.
    public func markLoaded() {
        let waiting = self.state.withLock { state in
            state.loaded = true
            defer { state.waiting = [:] }
            return state.waiting
        }
        for continuation in waiting.values { continuation.resume() }
    }

    public var isLoaded: Bool { self.state.withLock { $0.loaded } }

    /// Returns once the topic has been read to its end, or the task is cancelled (the caller then
    /// checks `isLoaded`, so a worker stopping while the topic cannot be read does not hang).
    public func waitUntilLoaded() async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = self.state.withLock { state in
                    if state.loaded || Task.isCancelled { return true }
                    state.waiting[id] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            self.state.withLock { $0.waiting.removeValue(forKey: id) }?.resume()
        }
    }

    /// The control in force for `app`, nil when none was ever given.
    public func control(of app: String) -> AppControl? {
        self.state.withLock { $0.controls[app] }
    }

    public func isSuspended(_ app: String) -> Bool {
        self.control(of: app)?.suspended == true
    }
}
