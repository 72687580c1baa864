import Foundation
import Testing
import TributaryCore
@testable import TributaryNotify

@Suite("Triggers, subscriptions and templates")
struct NotificationRoutingTests {
    static func sync(_ phase: SyncEvent.Phase, app: String = "shop", attempt: Int = 1, revision: String = "9f1c2e3d4b5a69788796a5b4c3d2e1f0a9b8c7d6") -> SyncEvent {
        let now = Date()
        return SyncEvent(
            app: app, project: "payments", repository: "github.com/acme/infra", ref: "main", revision: revision, phase: phase,
            attempt: attempt, destination: "directory:/srv/rendered/\(app)", message: phase == .failed ? "apps/shop/bad.yaml:6: invalid YAML" : nil,
            deliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", startedAt: now, finishedAt: now
        )
    }

    static let yaml = """
        sinks:
          - name: team-slack
            slack: { url: { value: "http://127.0.0.1:1/hook" } }
          - name: oncall-mail
            email: { host: 127.0.0.1, port: 2525, tls: none, from: "tributary@example.com", to: ["oncall@example.com"] }
        triggers:
          - name: on-sync-failed
            when: "attempt >= 2 and app matches 'sh*'"
        subscriptions:
          - apps: ["shop", "payments-*"]
            triggers: [on-sync-failed, on-drift-detected]
            sinks: [team-slack, oncall-mail]
          - projects: ["payments"]
            triggers: [on-sync-failed]
            sinks: [team-slack]
        templates:
          on-drift-detected: { slack: "{{app}} drifted: {{message}}" }

        """

    @Test func triggersFireOnTheirPhaseAndConditionOncePerSink() throws {
        let settings = try TributaryConfiguration.parse(yaml: Self.yaml, file: "n.yaml").notifications
        #expect(NotificationRouter.notifications(for: Self.sync(.failed, attempt: 1), eventID: "e", settings: settings).isEmpty)
        let failed = NotificationRouter.notifications(for: Self.sync(.failed, attempt: 2), eventID: "e", settings: settings)
        // Two subscriptions name team-slack for on-sync-failed: still one notification for it.
        #expect(failed.map(\.sink) == ["oncall-mail", "team-slack"])
        #expect(failed.allSatisfy { $0.trigger == "on-sync-failed" && $0.syncEventID == "e" })
        #expect(failed.first?.deduplicationKey == "oncall-mail/shop/on-sync-failed/9f1c2e3d4b5a69788796a5b4c3d2e1f0a9b8c7d6")
        #expect(NotificationRouter.notifications(for: Self.sync(.succeeded), eventID: "e", settings: settings).isEmpty)
        #expect(NotificationRouter.notifications(for: Self.sync(.driftDetected, app: "billing"), eventID: "e", settings: settings).isEmpty)
        #expect(NotificationRouter.notifications(for: Self.sync(.driftDetected), eventID: "e", settings: settings).count == 2)
    }

    @Test func conditionsParseAndRejectWithReasons() throws {
        let condition = try TriggerCondition("attempt > 1 or phase == healed")
        #expect(condition.matches(Self.sync(.failed, attempt: 2)))
        #expect(condition.matches(Self.sync(.healed)))
        #expect(!condition.matches(Self.sync(.failed)))
        #expect(throws: TriggerCondition.ParseError.self) { try TriggerCondition("colour == red") }
        #expect(throws: TriggerCondition.ParseError.self) { try TriggerCondition("attempt >= two") }
        #expect(throws: TriggerCondition.ParseError.self) { try TriggerCondition("app ==") }
        #expect(throws: TriggerCondition.ParseError.self) { try TriggerCondition("app == a and") }
    }

    @Test func configurationErrorsNameFileLineAndKey() throws {
        let unknownSink = Self.yaml.replacingOccurrences(of: "sinks: [team-slack]\n", with: "sinks: [nobody]\n")
        let error = #expect(throws: ConfigurationError.self) { try TributaryConfiguration.parse(yaml: unknownSink, file: "n.yaml") }
        #expect(error?.description.contains("n.yaml:13: subscriptions[1]") == true, "\(String(describing: error))")
        #expect(error?.description.contains("no sink named nobody") == true)
        let badWhen = Self.yaml.replacingOccurrences(of: "attempt >= 2", with: "attempts >= 2")
        let whenError = #expect(throws: ConfigurationError.self) { try TributaryConfiguration.parse(yaml: badWhen, file: "n.yaml") }
        #expect(whenError?.description.contains("n.yaml:8: triggers[0].when") == true, "\(String(describing: whenError))")
        #expect(whenError?.description.contains("unknown field 'attempts'") == true)
    }

    @Test func defaultTemplatesNameTheAppRevisionLinkAndDelivery() throws {
        let templates = try NotificationTemplates([:], file: "n.yaml")
        let notification = NotificationEvent(sink: "s", app: "shop", trigger: "on-sync-failed", revision: "9f1c", syncEventID: "e", sync: Self.sync(.failed, attempt: 3))
        let slack = templates.slackText(for: notification)
        #expect(slack.contains("*shop* failed to sync"))
        #expect(slack.contains("<https://github.com/acme/infra/commit/9f1c2e3d4b5a69788796a5b4c3d2e1f0a9b8c7d6|9f1c2e3d4b5a>"))
        #expect(slack.contains("72d3162e-cc78-11e3-81ab-4c9367dc0958"))
        #expect(slack.contains("attempt 3"))
        let email = templates.email(for: notification)
        #expect(email.subject == "[tributary] shop failed to sync at 9f1c2e3d4b5a")
        #expect(email.body.contains("apps/shop/bad.yaml:6: invalid YAML"))
        // A template that does not parse is reported at start with the key that holds it.
        let broken = #expect(throws: NotifierSetupError.self) { try NotificationTemplates(["on-healed": .init(slack: "{{#open}}")], file: "n.yaml") }
        #expect(broken?.message.contains("templates.on-healed.slack") == true)
    }
}
