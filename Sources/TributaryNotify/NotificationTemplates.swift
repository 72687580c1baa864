import Foundation
import Mustache
import TributaryCore

/// The Mustache templates of each trigger: the configured ones, or built-in defaults that name
/// the app, link the revision and name the delivery that caused the sync.
public struct NotificationTemplates: Sendable {
    struct Rendered: Sendable {
        var slack: MustacheTemplate
        var emailSubject: MustacheTemplate
        var emailBody: MustacheTemplate
    }

    private let templates: [String: Rendered]

    static let defaultSlack = """
        {{#failed}}:x:{{/failed}}{{#succeeded}}:white_check_mark:{{/succeeded}}{{#drift}}:warning:{{/drift}}{{#healed}}:adhesive_bandage:{{/healed}} \
        *{{app}}* {{summary}} at {{#revisionURL}}<{{revisionURL}}|{{shortRevision}}>{{/revisionURL}}{{^revisionURL}}`{{shortRevision}}`{{/revisionURL}} \
        ({{ref}} of {{repository}}) → {{destination}}\
        {{#message}}
        > {{message}}{{/message}}\
        {{#deliveryID}}
        push delivery `{{deliveryID}}`{{/deliveryID}}{{#retried}} · attempt {{attempt}}{{/retried}}
        """
    static let defaultSubject = "[tributary] {{app}} {{summary}} at {{shortRevision}}"
    static let defaultBody = """
        App:         {{app}} (project {{project}})
        What:        {{summary}}
        Revision:    {{revision}}{{#revisionURL}}
                     {{revisionURL}}{{/revisionURL}}
        Source:      {{ref}} of {{repository}}
        Destination: {{destination}}
        Attempt:     {{attempt}}
        Trigger:     {{trigger}}{{#deliveryID}}
        Delivery:    {{deliveryID}} (the push that caused this sync){{/deliveryID}}{{#message}}

        {{message}}{{/message}}{{#resources}}

        Resources: {{created}} created, {{updated}} updated, {{pruned}} pruned, {{unchanged}} unchanged, {{orphaned}} orphaned{{/resources}}

        """

    /// - Throws: `NotifierSetupError` naming the trigger and template that does not parse.
    public init(_ configured: [String: TemplateSettings], file: String) throws {
        Self.registerContentTypes()
        var templates: [String: Rendered] = [:]
        for trigger in NotificationSettings.builtInTriggers.keys {
            let settings = configured[trigger] ?? TemplateSettings()
            func parse(_ text: String?, _ fallback: String, _ key: String, contentType: String) throws -> MustacheTemplate {
                do {
                    return try MustacheTemplate(string: "{{% CONTENT_TYPE: \(contentType)}}" + (text ?? fallback))
                } catch {
                    let location = settings.lines[key].map { "\(file):\($0)" } ?? file
                    throw NotifierSetupError(message: "\(location): templates.\(trigger).\(key): the Mustache template does not parse (\(error))")
                }
            }
            templates[trigger] = Rendered(
                slack: try parse(settings.slack, Self.defaultSlack, "slack", contentType: "SLACK"),
                emailSubject: try parse(settings.emailSubject, Self.defaultSubject, "emailSubject", contentType: "TEXT"),
                emailBody: try parse(settings.emailBody, Self.defaultBody, "emailBody", contentType: "TEXT")
            )
        }
        self.templates = templates
    }

    func slackText(for notification: NotificationEvent) -> String {
        self.templates[notification.trigger]?.slack.render(Self.context(notification)) ?? ""
    }

    func email(for notification: NotificationEvent) -> (subject: String, body: String) {
        let context = Self.context(notification)
        let subject = self.templates[notification.trigger]?.emailSubject.render(context) ?? notification.trigger
        // A header value is one line.
        return (subject.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " "), self.templates[notification.trigger]?.emailBody.render(context) ?? "")
    }

    /// The values templates see.
    static func context(_ notification: NotificationEvent) -> [String: Any] {
        let sync = notification.sync
        var context: [String: Any] = [
            "app": sync.app, "project": sync.project, "repository": sync.repository, "ref": sync.ref,
            "revision": sync.revision, "shortRevision": String(sync.revision.prefix(12)), "phase": sync.phase.rawValue,
            "attempt": sync.attempt, "trigger": sync.trigger, "destination": sync.destination, "notificationTrigger": notification.trigger,
            "summary": Self.summary(sync), "sink": notification.sink,
            "failed": sync.phase == .failed, "succeeded": sync.phase == .succeeded,
            "drift": sync.phase == .driftDetected, "healed": sync.phase == .healed, "retried": sync.attempt > 1,
        ]
        if let message = sync.message { context["message"] = message }
        if let health = sync.health { context["health"] = ["status": health.status, "message": health.message ?? ""] }
        if let delivery = sync.deliveryID { context["deliveryID"] = delivery }
        if let url = Self.revisionURL(sync) { context["revisionURL"] = url }
        if let error = sync.error { context["error"] = ["file": error.file, "line": error.line ?? 0, "message": error.message] }
        if let resources = sync.resources {
            context["resources"] = [
                "created": resources.created, "updated": resources.updated, "pruned": resources.pruned,
                "unchanged": resources.unchanged, "orphaned": resources.orphaned,
            ]
        }
        return context
    }

    static func summary(_ sync: SyncEvent) -> String {
        switch sync.phase {
        case .succeeded: "synced"
        case .failed: "failed to sync"
        case .skipped: "skipped"
        case .coalesced: "already synced"
        case .driftDetected: "drifted"
        case .healed: "healed"
        case .healthChanged: "is \(sync.health?.status ?? "of unknown health")"
        case .outOfSync: "is out of sync"
        case .synced: "is in sync"
        }
    }

    /// A web link to the commit, for hosts whose commit pages are known.
    static func revisionURL(_ sync: SyncEvent) -> String? {
        let host = sync.repository.split(separator: "/").first.map(String.init) ?? ""
        guard sync.revision.count == 40, sync.repository.contains("/"), !host.hasPrefix("127.") && host != "localhost" else { return nil }
        if host.contains("bitbucket") { return "https://\(sync.repository)/commits/\(sync.revision)" }
        if host.contains("gitlab") { return "https://\(sync.repository)/-/commit/\(sync.revision)" }
        return "https://\(sync.repository)/commit/\(sync.revision)"
    }

    private static let registration: Void = {
        MustacheContentTypes.register(SlackContentType(), named: "SLACK")
    }()

    static func registerContentTypes() { _ = Self.registration }
}

/// Slack's mrkdwn escaping: only `&`, `<` and `>` (HTML escaping would show `&quot;` literally).
struct SlackContentType: MustacheContentType {
    func escapeText(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// A notifier configuration problem found at start: a template that does not parse, a secret that cannot be read.
public struct NotifierSetupError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { self.message }
}
