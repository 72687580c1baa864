import Synchronization
import TributaryCore

/// The `AppControl` in force for each app, as read from `<prefix>.controls`. Until the topic has
/// been read to its end once, nobody can tell whether an app is suspended: syncs wait for that.
public final class AppControls: Sendable {
    private struct State {
        var controls: [String: AppControl] = [:]
        var loaded: Bool
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    /// - Parameter loaded: true when there is no topic to read (tests, `tributary diff`).
    public init(loaded: Bool) {
        self.state = Mutex(State(loaded: loaded))
    }

    /// Records a control read from the topic; a later one for the same app replaces it.
    ///
    /// - Returns: whether the app's suspension changed.
    @discardableResult
    public func apply(_ control: AppControl) -> Bool {
        self.state.withLock { state in
            let before = state.controls[control.app]
            if let before, before.at > control.at { return false }
            state.controls[control.app] = control
            return (before?.suspended ?? false) != control.suspended
        }
    }

    /// The topic has been read to the end it had when reading began.
    public func markLoaded() {
        let waiting = self.state.withLock { state in
            state.loaded = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    public var isLoaded: Bool { self.state.withLock { $0.loaded } }

    /// Returns once the topic has been read to its end.
    public func waitUntilLoaded() async {
        await withCheckedContinuation { continuation in
            let ready = self.state.withLock { state in
                if state.loaded { return true }
                state.waiting.append(continuation)
                return false
            }
            if ready { continuation.resume() }
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
