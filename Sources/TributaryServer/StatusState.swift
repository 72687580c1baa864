import Foundation
import TributaryCore

/// One sync event as the API shows it.
public struct SyncSummary: Codable, Hashable, Sendable {
    /// The event's CloudEvents id.
    public var id: String
    public var app: String
    public var phase: SyncEvent.Phase
    public var revision: String
    public var trigger: String
    public var attempt: Int
    public var destination: String
    public var resources: SyncEvent.ResourceCounts?
    public var health: SyncEvent.Health?
    public var difference: SyncEvent.Difference?
    public var message: String?
    public var error: SyncEvent.SourceError?
    public var deliveryID: String?
    public var startedAt: Date
    public var finishedAt: Date
    public var durationMilliseconds: Double
    public var timings: SyncEvent.Timings?
    /// From the listener receiving the push to this event (pushes only).
    public var pushToAppliedMilliseconds: Double?

    init(id: String, _ event: SyncEvent) {
        self.id = id
        self.app = event.app
        self.phase = event.phase
        self.revision = event.revision
        self.trigger = event.trigger
        self.attempt = event.attempt
        self.destination = event.destination
        self.resources = event.resources
        self.health = event.health
        self.difference = event.difference
        self.message = event.message
        self.error = event.error
        self.deliveryID = event.deliveryID
        self.startedAt = event.startedAt
        self.finishedAt = event.finishedAt
        self.durationMilliseconds = event.durationMilliseconds
        self.timings = event.timings
        self.pushToAppliedMilliseconds = event.receivedAt.map { (event.finishedAt.timeIntervalSince($0) * 1000).rounded() }
    }
}

/// The current state of one app, in Argo CD's vocabulary.
public struct AppStatus: Codable, Hashable, Sendable {
    public enum SyncStatus: String, Codable, Sendable {
        case synced = "Synced"
        case outOfSync = "OutOfSync"
        case unknown = "Unknown"
    }

    public var app: String
    public var project: String
    public var cluster: String?
    public var destination: String
    public var repository: String
    public var targetRevision: String
    /// Whether the target holds what the repository renders, as far as the events tell.
    public var syncStatus: SyncStatus = .unknown
    public var health: SyncEvent.Health?
    /// The revision the target holds: the last one synced.
    public var revision: String?
    /// The last sync that did something (succeeded, failed, healed).
    public var lastSync: SyncSummary?
    /// The last failure, until a later sync succeeds.
    public var lastError: SyncSummary?
    /// What a sync would change (manual and suspended apps).
    public var difference: SyncEvent.Difference?
    public var updatedAt: Date?
}

/// The server's read model: every app's status, its recent events, and recent pushes with what
/// they caused — built only from the topics, so any replica rebuilds the same.
public struct StatusState: Sendable {
    public struct Limits: Sendable {
        public var historyPerApp = 50
        public var pushes = 2000

        public init(historyPerApp: Int = 50, pushes: Int = 2000) {
            self.historyPerApp = historyPerApp
            self.pushes = pushes
        }
    }

    /// A push and everything it caused.
    public struct Push: Codable, Hashable, Sendable {
        public struct Notification: Codable, Hashable, Sendable {
            public var sink: String
            public var app: String
            public var trigger: String
            public var revision: String
            /// nil until the delivery ledger records it.
            public var outcome: DeliveryRecord.Outcome?
            public var at: Date?

            /// The notification's deduplication key, as the ledger is keyed.
            var key: String { "\(self.sink)/\(self.app)/\(self.trigger)/\(self.revision)" }
        }

        public var deliveryID: String
        public var changeID: String?
        public var provider: String?
        public var repository: String?
        public var ref: String?
        public var before: String?
        public var after: String?
        public var pusher: String?
        public var receivedAt: Date?
        public var syncs: [SyncSummary] = []
        public var notifications: [Notification] = []
    }

    public let limits: Limits
    private(set) var apps: [String: AppStatus] = [:]
    /// Apps of the configuration: their project is the configured one, whatever old events say.
    private var configured: Set<String> = []
    private var history: [String: [SyncSummary]] = [:]
    private var pushes: [String: Push] = [:]
    /// Delivery ids, oldest first, for the bound on `pushes`.
    private var pushOrder: [String] = []
    /// Notification deduplication key → delivery id, to attach the ledger's outcome.
    private var notificationPushes: [String: String] = [:]
    /// The ledger's records by key, oldest first: the topics are read side by side, so a record
    /// may come before the notification it records.
    private var delivered: [String: DeliveryRecord] = [:]
    private var deliveredOrder: [String] = []

    /// - Parameter apps: the configured apps, shown before any event about them.
    public init(apps: [AppSettings], limits: Limits = .init()) {
        self.limits = limits
        self.configured = Set(apps.map(\.name))
        for app in apps {
            self.apps[app.name] = AppStatus(
                app: app.name, project: app.project, cluster: app.cluster, destination: app.destination.description,
                repository: RepositoryKey(url: app.source.repoURL)?.rawValue ?? app.source.repoURL, targetRevision: app.source.targetRevision
            )
        }
    }

    // MARK: Applying records

    public mutating func apply(change: ChangeEvent, id: String) {
        self.updatePush(change.deliveryID) { push in
            push.changeID = id
            push.provider = change.provider
            push.repository = change.repository.key
            push.ref = change.ref
            push.before = change.before
            push.after = change.after
            push.pusher = change.pusher
            push.receivedAt = change.receivedAt
        }
    }

    public mutating func apply(sync event: SyncEvent, id: String) {
        let summary = SyncSummary(id: id, event)
        var status = self.apps[event.app] ?? AppStatus(
            app: event.app, project: event.project, cluster: event.cluster, destination: event.destination, repository: event.repository, targetRevision: event.ref
        )
        if !self.configured.contains(event.app) {
            status.project = event.project
            status.destination = event.destination
        }
        status.updatedAt = max(status.updatedAt ?? event.finishedAt, event.finishedAt)
        if let health = event.health { status.health = health }
        switch event.phase {
        case .succeeded, .healed, .synced:
            status.syncStatus = .synced
            status.revision = event.revision
            status.difference = nil
            status.lastError = nil
        case .outOfSync:
            status.syncStatus = .outOfSync
            status.difference = event.difference
        case .driftDetected:
            status.syncStatus = .outOfSync
        case .failed:
            // The target keeps its last good revision: out of sync unless that is what was asked for.
            if event.revision.isEmpty || event.revision != status.revision { status.syncStatus = .outOfSync }
            status.lastError = summary
        case .skipped, .coalesced, .healthChanged:
            break
        }
        if [.succeeded, .failed, .healed].contains(event.phase) { status.lastSync = summary }
        self.apps[event.app] = status
        // A reader that starts over after an error reads the same events again.
        if ![.skipped, .coalesced].contains(event.phase), !(self.history[event.app]?.contains { $0.id == id } ?? false) {
            var history = self.history[event.app, default: []]
            history.append(summary)
            if history.count > self.limits.historyPerApp { history.removeFirst(history.count - self.limits.historyPerApp) }
            self.history[event.app] = history
        }
        if let delivery = event.deliveryID {
            self.updatePush(delivery) { push in
                push.syncs.removeAll { $0.id == id }
                push.syncs.append(summary)
            }
        }
    }

    public mutating func apply(notification: NotificationEvent) {
        guard let delivery = notification.sync.deliveryID else { return }
        let key = notification.deduplicationKey
        self.notificationPushes[key] = delivery
        let record = self.delivered[key]
        self.updatePush(delivery) { push in
            guard !push.notifications.contains(where: { $0.key == key }) else { return }
            push.notifications.append(.init(
                sink: notification.sink, app: notification.app, trigger: notification.trigger, revision: notification.revision, outcome: record?.outcome, at: record?.at
            ))
        }
    }

    public mutating func apply(delivered record: DeliveryRecord, key: String) {
        if self.delivered.updateValue(record, forKey: key) == nil {
            self.deliveredOrder.append(key)
            // As many as the remembered pushes can plausibly have caused.
            if self.deliveredOrder.count > self.limits.pushes * 20 { self.delivered[self.deliveredOrder.removeFirst()] = nil }
        }
        guard let delivery = self.notificationPushes[key], var push = self.pushes[delivery] else { return }
        for index in push.notifications.indices where push.notifications[index].key == key {
            push.notifications[index].outcome = record.outcome
            push.notifications[index].at = record.at
        }
        self.pushes[delivery] = push
    }

    private mutating func updatePush(_ delivery: String, _ body: (inout Push) -> Void) {
        if self.pushes[delivery] == nil {
            self.pushOrder.append(delivery)
            if self.pushOrder.count > self.limits.pushes {
                let dropped = self.pushOrder.removeFirst()
                for notification in self.pushes[dropped]?.notifications ?? [] { self.notificationPushes[notification.key] = nil }
                self.pushes[dropped] = nil
            }
        }
        body(&self.pushes[delivery, default: Push(deliveryID: delivery)])
    }

    // MARK: Queries

    /// Apps matching every given filter, by name.
    public func apps(project: String? = nil, cluster: String? = nil, syncStatus: String? = nil, health: String? = nil, visible: (String) -> Bool = { _ in true }) -> [AppStatus] {
        self.apps.values.filter { status in
            visible(status.project) && (project == nil || status.project == project) && (cluster == nil || (status.cluster ?? "") == cluster)
                && (syncStatus == nil || status.syncStatus.rawValue.caseInsensitiveCompare(syncStatus!) == .orderedSame)
                && (health == nil || (status.health?.status ?? "").caseInsensitiveCompare(health!) == .orderedSame)
        }.sorted { $0.app < $1.app }
    }

    public func app(named name: String) -> AppStatus? { self.apps[name] }

    /// The app's recent events, newest first.
    public func history(of app: String) -> [SyncSummary] { self.history[app, default: []].reversed() }

    public func push(_ deliveryID: String) -> Push? { self.pushes[deliveryID] }
}
