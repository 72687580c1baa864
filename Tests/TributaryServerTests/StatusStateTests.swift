import Foundation
import Testing
import TributaryCore
@testable import TributaryServer

@Suite("The status read model")
struct StatusStateTests {
    static let configuration = try! TributaryConfiguration.parse(yaml: """
        projects: [{ name: shop, sourceRepos: ['*'], destinations: ['**'] }]
        apps:
          - { name: cart, project: shop, source: { repoURL: "https://git.example.com/acme/infra.git", path: cart }, destination: { directory: /srv/cart } }
          - { name: web, source: { repoURL: "https://git.example.com/acme/infra.git", path: web }, destination: { directory: /srv/web } }
        """, file: "t.yaml")

    static func event(_ app: String, _ phase: SyncEvent.Phase, revision: String, delivery: String? = nil, at seconds: Double = 0) -> SyncEvent {
        let start = Date(timeIntervalSince1970: 1_800_000_000 + seconds)
        var event = SyncEvent(
            app: app, project: app == "cart" ? "shop" : "default", repository: "git.example.com/acme/infra", ref: "HEAD", revision: revision, phase: phase,
            attempt: 1, trigger: delivery == nil ? "interval" : "change", destination: "directory:/srv/\(app)", deliveryID: delivery,
            receivedAt: delivery == nil ? nil : start.addingTimeInterval(-0.4), startedAt: start, finishedAt: start.addingTimeInterval(0.25)
        )
        if phase == .failed {
            event.message = "cart/bad.yaml:3: invalid YAML: did not find expected key"
            event.error = .init(file: "cart/bad.yaml", line: 3, message: "invalid YAML: did not find expected key")
        }
        return event
    }

    @Test func configuredAppsAreKnownBeforeAnyEventAndEventsMoveTheirStatus() {
        var state = StatusState(apps: Self.configuration.apps)
        #expect(state.apps().map(\.app) == ["cart", "web"])
        #expect(state.app(named: "cart")?.syncStatus == .unknown)

        state.apply(sync: Self.event("cart", .succeeded, revision: "a1"), id: "e1")
        #expect(state.app(named: "cart")?.syncStatus == .synced)
        #expect(state.app(named: "cart")?.revision == "a1")

        state.apply(sync: Self.event("cart", .failed, revision: "b2", at: 10), id: "e2")
        let failed = state.app(named: "cart")
        #expect(failed?.syncStatus == .outOfSync)
        #expect(failed?.revision == "a1")  // the target keeps its last good state
        #expect(failed?.lastError?.error == .init(file: "cart/bad.yaml", line: 3, message: "invalid YAML: did not find expected key"))
        #expect(failed?.lastSync?.phase == .failed)

        state.apply(sync: Self.event("cart", .succeeded, revision: "c3", at: 20), id: "e3")
        state.apply(sync: Self.event("cart", .driftDetected, revision: "c3", at: 30), id: "e4")
        #expect(state.app(named: "cart")?.syncStatus == .outOfSync)
        #expect(state.app(named: "cart")?.lastError == nil)
        state.apply(sync: Self.event("cart", .healed, revision: "c3", at: 40), id: "e5")
        #expect(state.app(named: "cart")?.syncStatus == .synced)
        state.apply(sync: Self.event("cart", .skipped, revision: "d4", at: 50), id: "e6")
        #expect(state.history(of: "cart").map(\.id) == ["e5", "e4", "e3", "e2", "e1"])  // newest first; skips are not history

        #expect(state.apps(syncStatus: "synced").map(\.app) == ["cart"])
        #expect(state.apps(project: "shop").map(\.app) == ["cart"])
        #expect(state.apps(visible: { $0 == "default" }).map(\.app) == ["web"])
    }

    @Test func aPushCollectsItsSyncsAndNotificationsWithTheirOutcome() throws {
        var state = StatusState(apps: Self.configuration.apps)
        let change = ChangeEvent(
            provider: "github", deliveryID: "d-1", repository: .init(key: "git.example.com/acme/infra", cloneURLs: []), ref: "refs/heads/main",
            before: String(repeating: "0", count: 40), after: "f00d", receivedAt: Date(timeIntervalSince1970: 1_800_000_000 - 0.4)
        )
        state.apply(change: change, id: "change-1")
        let synced = Self.event("cart", .succeeded, revision: "f00d", delivery: "d-1")
        state.apply(sync: synced, id: "s1")
        state.apply(sync: Self.event("web", .skipped, revision: "f00d", delivery: "d-1"), id: "s2")
        let notification = NotificationEvent(sink: "team-slack", app: "cart", trigger: "on-sync-succeeded", revision: "f00d", syncEventID: "s1", sync: synced, createdAt: synced.finishedAt)
        state.apply(notification: notification)
        let push = try #require(state.push("d-1"))
        #expect(push.changeID == "change-1" && push.after == "f00d")
        #expect(push.syncs.map(\.app) == ["cart", "web"])
        #expect(push.syncs[0].pushToAppliedMilliseconds == 650)
        #expect(push.notifications.first?.outcome == nil)
        state.apply(delivered: DeliveryRecord(sink: "team-slack", app: "cart", trigger: "on-sync-succeeded", revision: "f00d", outcome: .delivered, at: synced.finishedAt), key: notification.deduplicationKey)
        #expect(state.push("d-1")?.notifications.first?.outcome == .delivered)

        // The ledger's record may be read before the notification it records.
        var early = StatusState(apps: [])
        early.apply(delivered: DeliveryRecord(sink: "team-slack", app: "cart", trigger: "on-sync-succeeded", revision: "f00d", outcome: .deadLettered, at: synced.finishedAt), key: notification.deduplicationKey)
        early.apply(notification: notification)
        #expect(early.push("d-1")?.notifications.first?.outcome == .deadLettered)
    }

    @Test func historyAndPushesAreBounded() {
        var state = StatusState(apps: [], limits: .init(historyPerApp: 3, pushes: 2))
        for index in 0..<5 { state.apply(sync: Self.event("web", .succeeded, revision: "r\(index)", delivery: "d\(index)", at: Double(index)), id: "e\(index)") }
        #expect(state.history(of: "web").map(\.id) == ["e4", "e3", "e2"])
        #expect(state.push("d0") == nil && state.push("d4") != nil && state.push("d3") != nil)
    }
}
