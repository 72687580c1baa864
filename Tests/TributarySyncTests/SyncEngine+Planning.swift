import Foundation
import TributaryCore
import TributaryKafka
import TributaryPlanner
@testable import TributarySync

extension SyncEngine {
    /// What a planner and this engine make of a push, without Kafka: the push is planned into one
    /// request per app, and each is synced; the events come back sorted by app.
    func handle(_ change: ChangeEvent, id: String) async -> [SyncEvent] {
        let planner = ChangePlanner(configuration: self.configuration, mirrors: self.mirrors)
        let requests = (try? await planner.plan(change, changeID: id) { _ in 6 }) ?? []
        var events: [SyncEvent] = []
        for request in requests {
            guard let app = self.configuration.app(named: request.app) else { continue }
            if let event = await self.sync(app, trigger: .request(request, id: id)) { events.append(event) }
        }
        return events.sorted { $0.app < $1.app }
    }
}

extension SyncEngine.Trigger {
    /// A request for `change.after`, as the planner makes for an app whose path the push touches.
    static func change(_ change: ChangeEvent, id: String, app: String = "") -> Self {
        .request(
            SyncRequest(
                app: app, cluster: nil, repository: change.repository.key, ref: change.ref, revision: change.after, before: change.before,
                touchesPath: true, deleted: change.deleted, partitionCount: 6, changeID: id, deliveryID: change.deliveryID, receivedAt: change.receivedAt
            ),
            id: id
        )
    }
}
